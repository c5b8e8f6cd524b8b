namespace Tessera.Identity.Index;

/// <summary>What the index does with a source record whose NHS number fails the modulus-11 check.</summary>
public enum InvalidNhsNumberPolicy
{
    /// <summary>The record is matched on its other details; the number is ignored and the record flagged.</summary>
    Flag,

    /// <summary>The record is flagged and kept out of matching altogether (its own master, never linked) until corrected.</summary>
    Quarantine,
}

/// <summary>Settings for one source system, keyed by the system of its local identifier.</summary>
public sealed class MpiSourceOptions
{
    public InvalidNhsNumberPolicy InvalidNhsNumber { get; set; } = InvalidNhsNumberPolicy.Flag;
}

/// <summary>Settings of the master patient index (configuration section Tessera:Identity).</summary>
public sealed class MpiOptions
{
    public const string Section = "Tessera:Identity";

    /// <summary>Whether the web host runs the background worker that matches every written Patient.</summary>
    public bool RunWorker { get; set; } = true;

    /// <summary>How often the worker looks for newly written Patients when it has nothing to do.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>How many resource versions the feed reads per transaction.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>
    /// On PostgreSQL a sequence number can become visible after higher ones (its transaction committed later).
    /// A missing number is waited for until every transaction running when it was first seen has ended and at
    /// least this long has passed; then it is taken to be a rolled-back write.
    /// </summary>
    public TimeSpan GapGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Match probability at or above which a record is linked automatically; null keeps the model's threshold.</summary>
    public double? AutoLinkProbability { get; set; }

    /// <summary>Match probability at or above which a pair goes to review; null keeps the model's threshold.</summary>
    public double? ReviewProbability { get; set; }

    /// <summary>What to do with an invalid NHS number from a source not listed in <see cref="Sources"/>.</summary>
    public InvalidNhsNumberPolicy InvalidNhsNumber { get; set; } = InvalidNhsNumberPolicy.Flag;

    /// <summary>Per-source settings, keyed by the system (namespace URI) of the source's local patient identifier.</summary>
    public Dictionary<string, MpiSourceOptions> Sources { get; set; } = new(StringComparer.Ordinal);

    internal InvalidNhsNumberPolicy PolicyFor(string source) =>
        Sources.TryGetValue(source, out var options) ? options.InvalidNhsNumber : InvalidNhsNumber;
}
