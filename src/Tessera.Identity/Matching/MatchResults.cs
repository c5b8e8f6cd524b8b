using System.Globalization;
using System.Text;

namespace Tessera.Identity.Matching;

/// <summary>What the matcher recommends for a pair of records.</summary>
public enum MatchDecision
{
    /// <summary>Not the same person as far as the evidence shows.</summary>
    NoLink,

    /// <summary>Possibly the same person: a person must decide.</summary>
    Review,

    /// <summary>The same person with high confidence: linked without review.</summary>
    AutoLink,
}

/// <summary>One field's part in a score: the values compared, the agreement level found and the weight it added.</summary>
/// <param name="Level">Level index (0 strongest), or null when a value was missing and the field added nothing.</param>
/// <param name="Note">Why the weight differs from the model's level weight, or why the field was ignored.</param>
public sealed record FieldEvidence(MatchField Field, string? Left, string? Right, int? Level, string LevelName, double Weight, string? Note);

/// <summary>Why a pair scored as it did: every field, the total, and any rule that overrode the score.</summary>
public sealed class MatchExplanation
{
    public required IReadOnlyList<FieldEvidence> Fields { get; init; }

    /// <summary>Sum of the field weights, in bits (log2 of the likelihood ratio).</summary>
    public required double TotalWeight { get; init; }

    public required double MatchProbability { get; init; }

    public required MatchDecision Decision { get; init; }

    public required double AutoLinkThreshold { get; init; }

    public required double ReviewThreshold { get; init; }

    /// <summary>Rules that decided regardless of the score (different valid NHS numbers), in words.</summary>
    public required IReadOnlyList<string> Overrides { get; init; }

    public override string ToString()
    {
        var sb = new StringBuilder();
        foreach (var f in Fields)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{f.Field,-12} {f.Left ?? "(none)"} | {f.Right ?? "(none)"} : {f.LevelName} {f.Weight,7:+0.00;-0.00;0.00}");
            if (f.Note is not null)
            {
                sb.Append(CultureInfo.InvariantCulture, $" ({f.Note})");
            }

            sb.AppendLine();
        }

        sb.Append(CultureInfo.InvariantCulture, $"total {TotalWeight:0.00} bits, probability {MatchProbability:0.0000}, {Decision} (auto-link at {AutoLinkThreshold:0.00}, review at {ReviewThreshold:0.00})");
        foreach (var o in Overrides)
        {
            sb.AppendLine().Append(o);
        }

        return sb.ToString();
    }
}

/// <summary>An indexed record returned for a <c>$match</c> query, best first.</summary>
public sealed record MatchCandidate(PersonRecord Record, double Score, double Probability, MatchDecision Decision, MatchExplanation Explanation);

/// <summary>A pair found by deduplication; ask <see cref="DeduplicationResult.Explain"/> for its explanation.</summary>
public sealed record ScoredPair(PersonRecord Left, PersonRecord Right, double Score, MatchDecision Decision)
{
    internal int LeftPosition { get; init; }

    internal int RightPosition { get; init; }
}

/// <summary>Records judged to be one person: the transitive closure of auto-linked pairs.</summary>
public sealed record PersonCluster(IReadOnlyList<PersonRecord> Records, string? NhsNumber);

/// <summary>How much work blocking produced and what it had to skip.</summary>
public sealed record BlockingReport(int Records, int Blocks, int OversizedBlocksSkipped, long CandidatePairs);

public sealed class DeduplicationResult
{
    private readonly MatchEngine engine;
    private readonly MatchIndex index;

    internal DeduplicationResult(MatchEngine engine, MatchIndex index) => (this.engine, this.index) = (engine, index);

    /// <summary>Pairs scoring at least the review threshold, best first, with their decisions.</summary>
    public required IReadOnlyList<ScoredPair> Pairs { get; init; }

    /// <summary>Clusters of two or more records.</summary>
    public required IReadOnlyList<PersonCluster> Clusters { get; init; }

    /// <summary>Auto-link pairs the cluster guard refused because they would join two different valid NHS numbers.</summary>
    public required IReadOnlyList<ScoredPair> RefusedLinks { get; init; }

    public required BlockingReport Blocking { get; init; }

    public MatchExplanation Explain(ScoredPair pair) =>
        engine.Explain(index.Records[pair.LeftPosition], index.Records[pair.RightPosition], index);
}
