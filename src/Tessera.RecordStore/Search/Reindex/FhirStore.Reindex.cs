using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Search.Reindex;
using Tessera.RecordStore.Serialization;

namespace Tessera.RecordStore;

/// <summary>Reindexing: one batch of a job, in one transaction.</summary>
public sealed partial class FhirStore
{
    /// <summary>
    /// Re-extracts the index of the next batch of the job's resources and moves its cursor, if the job is still this
    /// worker's. A resource that cannot be read or indexed is recorded as a failure with its reason and skipped.
    /// </summary>
    internal Task<BatchResult> ReindexBatchAsync(string jobId, string owner, int batchSize, DateTimeOffset now, CancellationToken ct) =>
        WriteAsync(async tx =>
        {
            var job = await ReindexJobs.ReadAsync(tx.Connection, tx.Transaction, jobId, ct, forUpdate: true);
            if (job is null || job.Status != ReindexJob.Running || job.Owner != owner)
            {
                return BatchResult.Lost;
            }

            var keys = await ReindexJobs.NextKeysAsync(tx, job, batchSize, ct);
            var failures = new List<(string Type, string Id, string Reason)>();
            var done = 0;
            foreach (var version in await _repository.ReadManyCurrentAsync(tx.Connection, tx.Transaction, keys, ct))
            {
                IndexValues index;
                string? patientKey;
                try
                {
                    var resource = FhirSerialization.ParseStored(version.Json ?? throw new InvalidOperationException("The current version has no content."));
                    index = _indexer.Extract(resource);
                    patientKey = ResourceIndexer.PatientKey(resource, index);
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    failures.Add((version.ResourceType, version.Id, $"{e.GetType().Name}: {e.Message}"));
                    continue;
                }

                await _repository.ReplaceIndexAsync(tx.Scope, version.ResourceType, version.Id, patientKey, index, ct);
                done++;
            }

            var finished = keys.Count < batchSize;
            await ReindexJobs.AdvanceAsync(tx, job, keys.Count > 0 ? keys[^1] : null, done, failures, finished, now, ct);
            return finished ? BatchResult.Finished : BatchResult.More;
        }, ct);
}
