using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;

namespace Tessera.RecordStore.Bulk;

/// <summary>A bundle ready for the bulk writer, or (Entries null) one left to the normal transaction processing.</summary>
internal sealed record PreparedBundle(BulkItem Item, List<PreparedEntry>? Entries);

/// <summary>One resource with its id settled, its index rows extracted and its JSON written for version 1.</summary>
internal sealed record PreparedEntry(Resource Resource, string Type, string Id, string Method, DateTimeOffset LastUpdated, IndexValues Index, string? PatientKey, Storage.IndexRows.Table[] Rows)
{
    /// <summary>The stored JSON; rewritten by the writer when the resource exists already and this is a later version.</summary>
    public required string Json { get; set; }

    public long Version { get; set; } = 1;
}

/// <summary>Time per stage, summed over the threads that ran it.</summary>
internal sealed class StageClock
{
    public long Preparing;
    public long Indexing;
    public long Serialising;
    public long Observing;
    public long Input;

    public void Add(ref long stage, TimeSpan elapsed) => Interlocked.Add(ref stage, elapsed.Ticks);
}
