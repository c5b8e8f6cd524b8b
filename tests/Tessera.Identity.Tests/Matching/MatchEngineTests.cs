using Tessera.Identity.Matching;

namespace Tessera.Identity.Tests.Matching;

public class MatchEngineTests
{
    private static readonly Lazy<(List<SyntheticPeople.Person> People, MatchModel Model)> Trained = new(() =>
    {
        var people = SyntheticPeople.Generate(3000, 0.4, seed: 7);
        return (people, MatchEngine.Train(people.Select(p => p.Record).ToList()));
    });

    private static PersonRecord Jane(string id, string? nhs) => new("src", id)
    {
        NhsNumber = nhs,
        GivenNames = "Jane",
        FamilyName = "Featherstonehaugh",
        BirthDate = new DateOnly(1984, 3, 14),
        Sex = RecordedSex.Female,
        Postcode = "LS6 2AB",
        AddressLine = "12 Mill Lane",
        Town = "Leeds",
        Phone = "07700 900123",
    };

    [Fact]
    public void Em_converges_and_learns_that_agreement_is_evidence_of_a_match()
    {
        var model = Trained.Value.Model;
        Assert.True(model.Training!.EmConverged, $"EM did not converge in {model.Training.EmIterations} iterations");
        Assert.True(model.Training.DeterministicMatches > 0);
        foreach (var field in new[] { MatchField.GivenName, MatchField.FamilyName, MatchField.BirthDate, MatchField.Postcode, MatchField.NhsNumber })
        {
            var levels = model[field].Levels;
            Assert.True(levels[0].Weight > 3, $"{field} exact agreement weight {levels[0].Weight}");
            Assert.True(levels[^1].Weight < 0, $"{field} disagreement weight {levels[^1].Weight}");
        }

        // The synthetic errors transpose day and month: EM should find that level favours a match.
        Assert.True(model[MatchField.BirthDate].Levels[1].Weight > 0);
        Assert.InRange(model.Lambda, 1e-4, 0.9);
        Assert.True(model.AutoLinkThreshold > model.ReviewThreshold);
    }

    [Fact]
    public void Training_is_deterministic_and_the_model_round_trips_through_json()
    {
        var records = SyntheticPeople.Generate(800, 0.3, seed: 11).Select(p => p.Record).ToList();
        var json = MatchEngine.Train(records).ToJson();
        Assert.Equal(json, MatchEngine.Train(records).ToJson());
        var reloaded = MatchModel.FromJson(json);
        Assert.Equal(json, reloaded.ToJson());
        Assert.Contains("\"weight\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_model_is_rejected_with_a_clear_error()
    {
        var ex = Assert.Throws<System.Text.Json.JsonException>(() => MatchModel.FromJson("""{"fields": [], "lambda": 0.1}"""));
        Assert.Contains("must list the fields", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Deduplication_finds_the_synthetic_duplicates()
    {
        var (people, model) = Trained.Value;
        var result = new MatchEngine(model).Deduplicate(people.Select(p => p.Record).ToList());
        var entity = people.ToDictionary(p => p.Record.RecordId, p => p.Entity);
        var auto = result.Pairs.Where(p => p.Decision == MatchDecision.AutoLink).ToList();
        var correct = auto.Count(p => entity[p.Left.RecordId] == entity[p.Right.RecordId]);
        var truePairs = people.GroupBy(p => p.Entity).Sum(g => g.Count() * (g.Count() - 1) / 2);
        Assert.True(correct >= 0.95 * truePairs, $"found {correct} of {truePairs}");
        Assert.True(correct >= 0.99 * auto.Count, $"{auto.Count - correct} false auto-links");
        Assert.True(result.Blocking.CandidatePairs < (long)people.Count * 100, "blocking should keep comparisons near-linear");
    }

    [Fact]
    public void Different_valid_nhs_numbers_are_never_linked_even_when_everything_else_agrees()
    {
        var model = Trained.Value.Model;
        var engine = new MatchEngine(model);
        var explanation = engine.Explain(Jane("a", "943 476 5919"), Jane("b", "9999999999"));
        Assert.Equal(MatchDecision.NoLink, explanation.Decision);
        Assert.True(explanation.TotalWeight > model.AutoLinkThreshold, "the demographics alone would have linked them");
        Assert.Contains(explanation.Overrides, o => o.Contains("Different valid NHS numbers", StringComparison.Ordinal));

        var index = engine.CreateIndex([Jane("a", "943 476 5919")]);
        Assert.Empty(engine.Match(Jane("b", "9999999999"), index));
    }

    [Fact]
    public void An_invalid_nhs_number_is_never_used_for_linking()
    {
        var engine = new MatchEngine(Trained.Value.Model);

        // Same invalid number, nothing else in common: the number must add nothing.
        var a = new PersonRecord("s", "a") { NhsNumber = "9434765918", FamilyName = "Patel", BirthDate = new DateOnly(1950, 1, 1) };
        var b = new PersonRecord("s", "b") { NhsNumber = "9434765918", FamilyName = "Okonkwo", BirthDate = new DateOnly(1990, 6, 6) };
        var explanation = engine.Explain(a, b);
        var nhs = explanation.Fields.Single(f => f.Field == MatchField.NhsNumber);
        Assert.Null(nhs.Level);
        Assert.Equal(0, nhs.Weight);
        Assert.NotNull(nhs.Note);
        Assert.Equal(MatchDecision.NoLink, explanation.Decision);

        // An invalid number against a different valid one is not a conflict either.
        Assert.Equal(MatchDecision.AutoLink, engine.Explain(Jane("a", "9434765918"), Jane("b", "9999999999")).Decision);
    }

    [Fact]
    public void Clusters_never_join_two_different_valid_nhs_numbers()
    {
        // B has no NHS number and matches both A and C, who carry different valid numbers.
        var a = Jane("a", "943 476 5919");
        var b = Jane("b", null);
        var c = Jane("c", "9999999999");
        var result = new MatchEngine(Trained.Value.Model).Deduplicate([a, b, c]);
        Assert.All(result.Clusters, cluster => Assert.True(cluster.Records.Select(r => r.NhsNumber).Where(n => n is not null).Distinct().Count() <= 1));
        Assert.Single(result.Clusters);
        Assert.Single(result.RefusedLinks);
        Assert.DoesNotContain(result.Pairs, p => (p.Left.RecordId, p.Right.RecordId) == ("a", "c"));
    }

    [Fact]
    public void Match_ranks_the_right_person_first_and_explains_every_field()
    {
        var (people, model) = Trained.Value;
        var engine = new MatchEngine(model);
        var index = engine.CreateIndex(people.Select(p => p.Record));
        var target = people.First(p => p.Record.NhsNumber is null).Record;
        var query = target with { RecordId = "query", GivenNames = target.GivenNames!.ToUpperInvariant(), Postcode = null };

        var results = engine.Match(query, index);
        Assert.NotEmpty(results);
        Assert.Equal(target.RecordId, results[0].Record.RecordId);
        Assert.Equal(MatchDecision.AutoLink, results[0].Decision);
        Assert.True(results.Zip(results.Skip(1)).All(x => x.First.Score >= x.Second.Score));

        var explanation = results[0].Explanation;
        Assert.Equal(MatchFields.Count, explanation.Fields.Count);
        Assert.Equal(explanation.TotalWeight, explanation.Fields.Sum(f => f.Weight), 6);
        Assert.Equal("missing", explanation.Fields.Single(f => f.Field == MatchField.Postcode).LevelName);
        Assert.Contains("total", explanation.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Rare_surnames_weigh_more_than_common_ones()
    {
        var model = Trained.Value.Model;
        var engine = new MatchEngine(model);
        var records = Trained.Value.People.Select(p => p.Record).ToList();
        var index = engine.CreateIndex(records.Append(new PersonRecord("s", "z1") { FamilyName = "Zebedee" }));
        double FamilyWeight(string name) => engine.Explain(new PersonRecord("s", "1") { FamilyName = name }, new PersonRecord("s", "2") { FamilyName = name }, index)
            .Fields.Single(f => f.Field == MatchField.FamilyName).Weight;
        Assert.True(FamilyWeight("Zebedee") > FamilyWeight("Smith") + 1);
    }

    [Fact]
    public void Giant_blocks_are_skipped_and_counted()
    {
        // Everyone shares one birth date (a default value some systems write): that block must be skipped.
        var records = Enumerable.Range(0, 60).Select(i => new PersonRecord("s", $"r{i}")
        {
            GivenNames = $"name{i}",
            FamilyName = $"family{i}",
            BirthDate = new DateOnly(1900, 1, 1),
        }).ToList();
        var engine = new MatchEngine(Trained.Value.Model, new MatchOptions { MaxBlockSize = 50 });
        var result = engine.Deduplicate(records);
        Assert.True(result.Blocking.OversizedBlocksSkipped >= 1);
        Assert.Equal(0, result.Blocking.CandidatePairs);
    }
}
