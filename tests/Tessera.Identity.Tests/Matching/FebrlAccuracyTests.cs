using Tessera.Identity.Matching;
using Xunit.Abstractions;

namespace Tessera.Identity.Tests.Matching;

/// <summary>
/// Accuracy on the FEBRL benchmark corpora: pairwise precision, recall and F1 against the known duplicates,
/// of the clusters built from auto-link decisions (deduplication) and of the best auto-link match (linkage). Skips (with the reason) when the shared corpus is not on this machine.
/// </summary>
public class FebrlAccuracyTests(ITestOutputHelper output)
{
    // The social security number stands in for a shared local identifier in datasets 1-3, never as an NHS
    // number; dataset C is matched without it, on names, dates, addresses and phone numbers alone.
    public static TheoryData<string, bool, double> DedupSets => new()
    {
        { "dataset1.csv", true, 0.99 },
        { "dataset2.csv", true, 0.99 },
        { "dataset3.csv", true, 0.99 },
        { "dsgen-series/dedup/dataset_C_10000.csv", false, 0.95 },
    };

    [FebrlTheory]
    [MemberData(nameof(DedupSets))]
    public void Deduplication_meets_target(string file, bool useSocialSecurityNumber, double targetF1)
    {
        var labelled = FebrlCorpus.Load(file, useSocialSecurityNumber: useSocialSecurityNumber);
        var records = labelled.Select(l => l.Record).ToList();
        var model = MatchEngine.Train(records);
        var engine = new MatchEngine(model);
        var result = engine.Deduplicate(records);

        var truth = FebrlCorpus.TruePairs(labelled);
        var auto = result.Pairs.Where(p => p.Decision == MatchDecision.AutoLink).Select(p => (p.Left.RecordId, p.Right.RecordId));
        var accuracy = FebrlCorpus.Score(auto, truth);
        var clusterPairs = result.Clusters.SelectMany(c => ClusterPairs(c.Records));
        var clusterAccuracy = FebrlCorpus.Score(clusterPairs, truth);
        var review = result.Pairs.Count(p => p.Decision == MatchDecision.Review);

        output.WriteLine($"{file} (social security number {(useSocialSecurityNumber ? "used as local identifier" : "not used")}): {records.Count} records, {truth.Count} true pairs, {result.Blocking.CandidatePairs} candidate pairs, {result.Blocking.OversizedBlocksSkipped} oversized blocks skipped");
        output.WriteLine($"  model: lambda {model.Lambda:0.00000}, auto-link >= {model.AutoLinkThreshold:0.00}, review >= {model.ReviewThreshold:0.00}, EM {model.Training!.EmIterations} iterations, converged {model.Training.EmConverged}");
        output.WriteLine($"  auto-link pairs: {accuracy}");
        output.WriteLine($"  cluster pairs:   {clusterAccuracy}");
        output.WriteLine($"  review pairs: {review}");

        // Deduplication's product is the clusters (one person each), so they are what the target is judged on.
        Assert.True(clusterAccuracy.F1 >= targetF1, $"{file}: cluster F1 {clusterAccuracy.F1:0.0000} below target {targetF1}");
    }

    [FebrlFact]
    public void Linkage_of_dataset4a_and_4b_meets_target()
    {
        var originals = FebrlCorpus.Load("dataset4a.csv", "source-a", useSocialSecurityNumber: true);
        var duplicates = FebrlCorpus.Load("dataset4b.csv", "source-b", useSocialSecurityNumber: true);
        var model = MatchEngine.Train(originals.Concat(duplicates).Select(l => l.Record).ToList());
        var engine = new MatchEngine(model);
        var index = engine.CreateIndex(originals.Select(l => l.Record));

        var linked = new List<(string, string)>();
        foreach (var query in duplicates)
        {
            var best = engine.Match(query.Record, index, maxResults: 1);
            if (best.Count == 1 && best[0].Decision == MatchDecision.AutoLink)
            {
                linked.Add((query.Record.RecordId, best[0].Record.RecordId));
            }
        }

        var truth = originals.Join(duplicates, o => o.Entity, d => d.Entity, (o, d) => FebrlCorpus.Ordered(o.Record.RecordId, d.Record.RecordId)).ToHashSet();
        var accuracy = FebrlCorpus.Score(linked, truth);
        output.WriteLine($"dataset4a x dataset4b: {truth.Count} true pairs, auto-link: {accuracy}");
        Assert.True(accuracy.F1 >= 0.99, $"dataset4 linkage F1 {accuracy.F1:0.0000} below target 0.99");
    }

    private static IEnumerable<(string, string)> ClusterPairs(IReadOnlyList<PersonRecord> members)
    {
        for (var i = 0; i < members.Count; i++)
        {
            for (var j = i + 1; j < members.Count; j++)
            {
                yield return (members[i].RecordId, members[j].RecordId);
            }
        }
    }
}

/// <summary>A fact that is skipped, saying why, when the FEBRL corpus is not on this machine.</summary>
public sealed class FebrlFactAttribute : FactAttribute
{
    public FebrlFactAttribute()
    {
        if (FebrlCorpus.Folder is null)
        {
            Skip = FebrlCorpus.MissingMessage;
        }
    }
}

/// <summary>A theory that is skipped, saying why, when the FEBRL corpus is not on this machine.</summary>
public sealed class FebrlTheoryAttribute : TheoryAttribute
{
    public FebrlTheoryAttribute()
    {
        if (FebrlCorpus.Folder is null)
        {
            Skip = FebrlCorpus.MissingMessage;
        }
    }
}
