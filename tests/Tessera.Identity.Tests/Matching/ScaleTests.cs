using Tessera.Identity.Matching;

namespace Tessera.Identity.Tests.Matching;

/// <summary>The shortcuts that make a large index affordable must not change any result.</summary>
public class ScaleTests
{
    private static readonly Lazy<(List<SyntheticPeople.Person> People, MatchModel Model)> Trained = new(() =>
    {
        var people = SyntheticPeople.Generate(2000, 0.4, seed: 23);
        return (people, MatchEngine.Train(people.Select(p => p.Record).ToList()));
    });

    [Fact]
    public void Deduplication_finds_the_same_pairs_and_clusters_whatever_the_degree_of_parallelism()
    {
        var (people, model) = Trained.Value;
        var records = people.Select(p => p.Record).ToList();
        string Describe(int threads)
        {
            var result = new MatchEngine(model, new MatchOptions { MaxDegreeOfParallelism = threads }).Deduplicate(records);
            var pairs = result.Pairs.Select(p => $"{p.Left.RecordId}-{p.Right.RecordId}:{p.Score:R}:{p.Decision}");
            var clusters = result.Clusters.Select(c => string.Join(",", c.Records.Select(r => r.RecordId)));
            return $"{result.Blocking.CandidatePairs}|{string.Join(";", pairs)}|{string.Join(";", clusters)}";
        }

        var one = Describe(1);
        Assert.Contains("auto", one, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(one, Describe(2));
        Assert.Equal(one, Describe(7));
    }

    [Fact]
    public void Stopping_early_scores_every_pair_that_can_reach_the_threshold_exactly_as_the_full_comparison()
    {
        var (people, model) = Trained.Value;
        var scorer = new PairScorer(model);
        var index = new MatchEngine(model).CreateIndex(people.Select(p => p.Record));
        Span<int> levels = stackalloc int[MatchFields.Count];
        var random = new Random(5);
        int kept = 0, dropped = 0;
        foreach (var threshold in new[] { model.ReviewThreshold, model.AutoLinkThreshold, -20.0 })
        {
            // Candidate pairs (mostly alike) and random pairs (mostly not).
            var pairs = new List<(int, int)>();
            index.ForEachCandidatePair(new ParallelOptions { MaxDegreeOfParallelism = 1 }, () => pairs, (i, j, list) => list.Add((i, j)), _ => { });
            pairs.AddRange(Enumerable.Range(0, 3000).Select(_ => (random.Next(index.Count), random.Next(index.Count))));
            foreach (var (i, j) in pairs)
            {
                var full = scorer.Evaluate(index.Records[i], index.Records[j], index, levels);
                var reaches = !full.NhsConflict && full.Weight >= threshold;
                Assert.Equal(reaches, scorer.TryScore(index.Records[i], index.Records[j], index, threshold, out var quick));
                if (reaches)
                {
                    Assert.Equal(full, quick);
                    kept++;
                }
                else
                {
                    dropped++;
                }
            }
        }

        Assert.True(kept > 100 && dropped > 100, $"kept {kept}, dropped {dropped}");
    }

    [Fact]
    public void Records_with_day_and_month_of_birth_transposed_share_a_block_with_their_initial()
    {
        var engine = new MatchEngine(Trained.Value.Model);
        var index = engine.CreateIndex([new PersonRecord("gp", "a") { GivenNames = "Ann", FamilyName = "Quist", BirthDate = new DateOnly(1970, 3, 11) }]);
        var transposed = new PersonRecord("pas", "b") { GivenNames = "Anna", FamilyName = "Rolle", BirthDate = new DateOnly(1970, 11, 3) };
        Assert.Equal([0], index.Candidates(new PreparedRecord(transposed, -1), out _));
        Assert.Empty(index.Candidates(new PreparedRecord(transposed with { BirthDate = new DateOnly(1970, 11, 4) }, -1), out _));
        Assert.Empty(index.Candidates(new PreparedRecord(transposed with { GivenNames = "Bea" }, -1), out _));
    }
}
