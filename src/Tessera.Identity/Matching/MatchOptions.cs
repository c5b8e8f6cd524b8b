namespace Tessera.Identity.Matching;

/// <summary>Settings for training and running the matcher; the defaults suit a regional population.</summary>
public sealed class MatchOptions
{
    /// <summary>Seed for the random pair sample, so training the same records twice gives the same model.</summary>
    public int Seed { get; init; } = 20_061;

    /// <summary>How many random record pairs estimate the u probabilities (chance agreement).</summary>
    public int RandomPairSample { get; init; } = 200_000;

    /// <summary>
    /// Blocks (records sharing one blocking key) larger than this are skipped: a key shared by thousands
    /// (a default date of birth, a placeholder postcode) says nothing and would make cost quadratic.
    /// </summary>
    public int MaxBlockSize { get; init; } = 400;

    public int EmMaxIterations { get; init; } = 500;

    /// <summary>EM stops when no m probability moves by more than this between iterations.</summary>
    public double EmTolerance { get; init; } = 1e-5;

    /// <summary>Match probability at or above which training places the auto-link threshold.</summary>
    public double AutoLinkProbability { get; init; } = 0.95;

    /// <summary>Match probability at or above which training places the review threshold.</summary>
    public double ReviewProbability { get; init; } = 0.2;

    /// <summary>Degree of parallelism for training and deduplication; null uses every core.</summary>
    public int? MaxDegreeOfParallelism { get; init; }

    internal ParallelOptions Parallel => new() { MaxDegreeOfParallelism = MaxDegreeOfParallelism ?? -1 };
}
