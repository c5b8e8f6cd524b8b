using Hl7.Fhir.Model;
using Tessera.RecordStore.Machinery;

namespace Tessera.RecordStore.Bulk;

/// <summary>One transaction bundle to load, with a label for reports (a person, a file and line).</summary>
public sealed record BulkItem(Bundle Bundle, string Label);

/// <summary>How a bulk load runs.</summary>
public sealed record BulkLoadOptions
{
    /// <summary>About how many resources each database transaction writes (whole bundles; a bundle is never split).</summary>
    public int BatchResources { get; init; } = 5_000;

    /// <summary>How many bundles are prepared (references, index, JSON) at once.</summary>
    public int Parallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// Into an empty store, build the index tables' indexes once at the end rather than row by row (the default).
    /// Searches and updates by other clients during such a load are correct but slow, as the indexes are missing.
    /// </summary>
    public bool DeferIndexes { get; init; } = true;
}

/// <summary>How far a bulk load has come: bundles and resources committed.</summary>
public sealed record BulkLoadProgress(long Bundles, long Resources);

/// <summary>A bundle that was refused, with the reason the transaction processing gave.</summary>
public sealed record BulkLoadFailure(string Label, string Reason);

/// <summary>What a bulk load wrote, and where its time went.</summary>
public sealed class BulkLoadSummary
{
    public long Bundles { get; internal set; }

    public long Resources { get; internal set; }

    /// <summary>Bundles that went through the normal transaction processing (entries the fast path does not take, or a failed batch retried bundle by bundle).</summary>
    public long TransactionBundles { get; internal set; }

    /// <summary>Resources created and updated, per type.</summary>
    public SortedDictionary<string, (long Created, long Updated)> ByType { get; } = new(StringComparer.Ordinal);

    public List<BulkLoadFailure> Failures { get; } = [];

    /// <summary>CPU time spent resolving references, extracting index rows and serialising (summed over threads; see <see cref="ThreadClock"/>).</summary>
    public TimeSpan Preparing { get; internal set; }

    /// <summary>Of <see cref="Preparing"/>, the time extracting search index rows.</summary>
    public TimeSpan Indexing { get; internal set; }

    /// <summary>Of <see cref="Preparing"/>, the time serialising resources to JSON.</summary>
    public TimeSpan Serialising { get; internal set; }

    /// <summary>Time writing versions, current rows and index rows, commits included (the single writer).</summary>
    public TimeSpan Writing { get; internal set; }

    /// <summary>Of <see cref="Writing"/>, the time the write observers (e.g. the governance index) took.</summary>
    public TimeSpan Observing { get; internal set; }

    /// <summary>Time the load waited for its input (e.g. the demo generator).</summary>
    public TimeSpan WaitingForInput { get; internal set; }

    public TimeSpan Elapsed { get; internal set; }

    /// <summary>Of <see cref="Elapsed"/>, building the index tables' indexes at the end of a load into an empty store (zero otherwise).</summary>
    public TimeSpan BuildingIndexes { get; internal set; }

    internal void Count(string type, bool created, long n = 1)
    {
        var (c, u) = ByType.GetValueOrDefault(type);
        ByType[type] = created ? (c + n, u) : (c, u + n);
    }
}

/// <summary>A version the bulk path wrote: its resource (null for a deletion) and whether it is the resource's first.</summary>
public sealed record WrittenResource(string ResourceType, string Id, Resource? Resource, bool IsNew);

/// <summary>
/// A write observer that can take many versions at once (a bulk load's batch) inside their transaction, so that
/// it may write its own rows together. Told of exactly the versions it would have been told of one by one.
/// </summary>
public interface IResourceBatchWriteObserver : Access.IResourceWriteObserver
{
    System.Threading.Tasks.Task OnWrittenManyAsync(StoreTransaction transaction, IReadOnlyList<WrittenResource> written, CancellationToken ct);
}
