using System.Diagnostics;
using System.Threading.Channels;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Bulk;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore;

/// <summary>
/// Bulk loading for trusted internal loads (the demo region, imports): many transaction bundles per database
/// transaction, prepared in parallel and written by one writer with PostgreSQL binary COPY or SQLite prepared
/// statements. What is written is what the normal transaction processing would write — ids, versions and meta,
/// urn:uuid references resolved, index rows, patient compartment keys, and every write observer told (the
/// governance index) — and the version log that the master patient index follows. A bundle the fast path does
/// not take (conditional entries or references, deletes, patches, reads, batches) goes through the normal
/// transaction processing between batches; a batch that fails is retried bundle by bundle the normal way, so a
/// bad bundle is reported with the normal error and the others load.
/// </summary>
public sealed partial class FhirStore
{
    /// <summary>Loads transaction bundles in order; see the type's remarks. There is no caller: nothing is decided or audited.</summary>
    public async Task<BulkLoadSummary> BulkLoadAsync(IAsyncEnumerable<BulkItem> items, BulkLoadOptions? options = null, IProgress<BulkLoadProgress>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(items);
        options ??= new BulkLoadOptions();
        var summary = new BulkLoadSummary();
        var clock = Stopwatch.StartNew();
        var stages = new StageClock();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var token = cancel.Token;

        // Into an empty store the index tables' indexes are built once at the end, sorted, instead of kept up row by
        // row (a B-tree insert at a random place per row and index): faster, and the indexes come out smaller.
        var deferred = options.DeferIndexes && await DropIndexesIfEmptyAsync(ct);
        try
        {
            await LoadAsync();
        }
        finally
        {
            if (deferred)
            {
                // Also when the load failed: the rows written stay, and need their indexes. (Opening the store builds
                // them too, should this process not get here.)
                var building = Stopwatch.StartNew();
                await BuildIndexesAsync(CancellationToken.None);
                summary.BuildingIndexes = building.Elapsed;
            }
        }

        // A large load changes the tables' make-up faster than autovacuum notices: refresh the planner's statistics
        // now, or the first searches after a load are planned as if the tables were still empty.
        if (summary.Resources >= StatisticsAfter)
        {
            await RefreshStatisticsAsync(ct);
        }

        summary.Preparing = TimeSpan.FromTicks(stages.Preparing);
        summary.Indexing = TimeSpan.FromTicks(stages.Indexing);
        summary.Serialising = TimeSpan.FromTicks(stages.Serialising);
        summary.Observing = TimeSpan.FromTicks(stages.Observing);
        summary.WaitingForInput = TimeSpan.FromTicks(stages.Input);
        summary.Elapsed = clock.Elapsed;
        return summary;

        async System.Threading.Tasks.Task LoadAsync()
        {
            // Stage 1: bundles prepared in parallel, kept in input order (a queue of tasks, bounded so memory is).
            var prepared = Channel.CreateBounded<System.Threading.Tasks.Task<PreparedBundle>>(new BoundedChannelOptions(Math.Max(2, options.Parallelism * 4)) { SingleReader = true, SingleWriter = true });
            // Stage 2: batches of about BatchResources resources, one waiting while the writer writes the last.
            var batches = Channel.CreateBounded<List<PreparedBundle>>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });

            var producer = System.Threading.Tasks.Task.Run(async () =>
            {
                try
                {
                    var wait = Stopwatch.StartNew();
                    await foreach (var item in items.WithCancellation(token))
                    {
                        stages.Add(ref stages.Input, wait.Elapsed);
                        await prepared.Writer.WriteAsync(System.Threading.Tasks.Task.Run(() => Prepare(item, stages), token), token);
                        wait.Restart();
                    }

                    prepared.Writer.Complete();
                }
                catch (Exception e)
                {
                    prepared.Writer.Complete(e);
                }
            }, token);

            var batcher = System.Threading.Tasks.Task.Run(async () =>
            {
                try
                {
                    var batch = new List<PreparedBundle>();
                    var resources = 0;
                    var keys = new HashSet<(string, string)>();
                    await foreach (var next in prepared.Reader.ReadAllAsync(token))
                    {
                        var bundle = await next;
                        // A resource written twice in one batch would need two versions numbered in order: start a new batch.
                        if (bundle.Entries is { } entries && entries.Any(e => keys.Contains((e.Type, e.Id))))
                        {
                            await batches.Writer.WriteAsync(batch, token);
                            (batch, resources) = ([], 0);
                            keys.Clear();
                        }

                        batch.Add(bundle);
                        resources += bundle.Entries?.Count ?? bundle.Item.Bundle.Entry.Count;
                        foreach (var e in bundle.Entries ?? [])
                        {
                            keys.Add((e.Type, e.Id));
                        }

                        if (resources >= options.BatchResources)
                        {
                            await batches.Writer.WriteAsync(batch, token);
                            (batch, resources) = ([], 0);
                            keys.Clear();
                        }
                    }

                    if (batch.Count > 0)
                    {
                        await batches.Writer.WriteAsync(batch, token);
                    }

                    batches.Writer.Complete();
                }
                catch (Exception e)
                {
                    batches.Writer.Complete(e);
                }
            }, token);

            try
            {
                await foreach (var batch in batches.Reader.ReadAllAsync(token))
                {
                    var writing = Stopwatch.StartNew();
                    await WriteBatchAsync(batch, summary, stages, token);
                    summary.Writing += writing.Elapsed;
                    progress?.Report(new BulkLoadProgress(summary.Bundles, summary.Resources));
                }

                await producer;
                await batcher;
            }
            catch
            {
                await cancel.CancelAsync();
                throw;
            }
        }
    }

    /// <summary>Drops the index tables' indexes when the store holds no resource; true when it did.</summary>
    private async System.Threading.Tasks.Task<bool> DropIndexesIfEmptyAsync(CancellationToken ct)
    {
        await using var scope = await _dialect.BeginWriteAsync(ct);
        if (await Db.ScalarAsync(scope, "SELECT 1 FROM resource LIMIT 1", ct) is not (null or DBNull))
        {
            return false;
        }

        foreach (var (name, _) in Schema.IndexTableIndexes(_dialect.Kind))
        {
            await Db.ExecuteAsync(scope, $"DROP INDEX IF EXISTS {name}", ct);
        }

        await scope.CommitAsync(ct);
        return true;
    }

    /// <summary>Builds the index tables' indexes a load into an empty store dropped.</summary>
    private async System.Threading.Tasks.Task BuildIndexesAsync(CancellationToken ct)
    {
        // SQLite keeps a transaction's new pages in the write-ahead log until it commits, and only then copies them
        // into the file: all the indexes of a large load in one transaction need their size twice over on disk (at
        // 100,000 people, tens of GB). One index per transaction, the log emptied after each, needs the largest once.
        var sqlite = _dialect.Kind == DatabaseKind.Sqlite;
        int built;
        do
        {
            await using (var scope = await _dialect.BeginWriteAsync(ct))
            {
                built = await SchemaMigrator.BuildIndexTableIndexesAsync(scope, _dialect.Kind, ct, atMost: sqlite ? 1 : int.MaxValue);
                await scope.CommitAsync(ct);
            }

            if (sqlite && built > 0)
            {
                await ExecuteAloneAsync("PRAGMA wal_checkpoint(TRUNCATE)", ct);
            }
        }
        while (sqlite && built > 0);
    }

    private const int StatisticsAfter = 10_000;

    /// <summary>Refreshes the database's statistics on its tables (ANALYZE), which the query planner chooses plans by.</summary>
    public async System.Threading.Tasks.Task RefreshStatisticsAsync(CancellationToken ct = default)
    {
        // SQLite's ANALYZE reads every index whole unless told to sample; a sample of each is what the planner needs.
        await ExecuteAloneAsync(_dialect.Kind == DatabaseKind.Sqlite ? "PRAGMA analysis_limit = 1000; ANALYZE" : "ANALYZE", ct);
    }

    /// <summary>Runs a maintenance statement on a connection of its own, outside any transaction, however long it takes.</summary>
    private async System.Threading.Tasks.Task ExecuteAloneAsync(string sql, CancellationToken ct)
    {
        await using var connection = await _dialect.OpenAsync(ct);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.CommandTimeout = 0;
        await command.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Writes one batch: the fast path in one transaction for its eligible bundles, the others one by one as transactions.</summary>
    private async System.Threading.Tasks.Task WriteBatchAsync(List<PreparedBundle> batch, BulkLoadSummary summary, StageClock stages, CancellationToken ct)
    {
        // Bundles keep their order: runs of fast-path bundles are written together, the others in between.
        var run = new List<PreparedBundle>();
        foreach (var bundle in batch)
        {
            if (bundle.Entries is not null)
            {
                run.Add(bundle);
                continue;
            }

            await WriteRunAsync(run, summary, stages, ct);
            run.Clear();
            await TransactionOneAsync(bundle.Item, summary, ct);
        }

        await WriteRunAsync(run, summary, stages, ct);
    }

    private async System.Threading.Tasks.Task WriteRunAsync(List<PreparedBundle> run, BulkLoadSummary summary, StageClock stages, CancellationToken ct)
    {
        if (run.Count == 0)
        {
            return;
        }

        List<(PreparedEntry Entry, bool Created)> written;
        try
        {
            written = await InWriteAsync(null, scope => BulkWriter.WriteAsync(this, scope, run, stages, ct), ct);
        }
        catch (Exception e) when (e is not OperationCanceledException && (_dialect.IsUniqueViolation(e) || e is FhirException || e is System.Data.Common.DbException))
        {
            // Something in the batch is refused (e.g. a concurrent writer took an id): each bundle on its own, the normal way.
            foreach (var bundle in run)
            {
                await TransactionOneAsync(bundle.Item, summary, ct);
            }

            return;
        }

        foreach (var (entry, created) in written)
        {
            summary.Count(entry.Type, created);
        }

        summary.Bundles += run.Count;
        summary.Resources += written.Count;
    }

    /// <summary>One bundle through the normal transaction (or batch) processing.</summary>
    private async System.Threading.Tasks.Task TransactionOneAsync(BulkItem item, BulkLoadSummary summary, CancellationToken ct)
    {
        summary.Bundles++;
        summary.TransactionBundles++;
        var bundle = item.Bundle;
        var types = bundle.Entry.Select(e => e.Resource?.TypeName ?? "Bundle entry").ToList();
        var response = await ExecuteAsync(new FhirRequest { Method = "POST", Path = string.Empty, Resource = bundle }, ct);
        if (response.Resource is not Bundle result)
        {
            summary.Failures.Add(new BulkLoadFailure(item.Label, string.Join("; ", response.Outcome?.Issue.Select(i => i.Diagnostics ?? i.Code?.ToString()) ?? [$"HTTP {response.Status}"])));
            return;
        }

        for (var i = 0; i < result.Entry.Count; i++)
        {
            var status = result.Entry[i].Response?.Status ?? string.Empty;
            if (status.StartsWith('2'))
            {
                summary.Count(types.ElementAtOrDefault(i) ?? "Bundle entry", status.StartsWith("201", StringComparison.Ordinal));
                summary.Resources++;
            }
            else
            {
                var outcome = result.Entry[i].Response?.Outcome as OperationOutcome;
                summary.Failures.Add(new BulkLoadFailure($"{item.Label} entry {i}", outcome is null ? status : string.Join("; ", outcome.Issue.Select(x => x.Diagnostics ?? x.Code?.ToString()))));
            }
        }
    }

    /// <summary>
    /// Settles a bundle's ids and references and prepares each resource's rows, or leaves it to the normal
    /// transaction processing (Entries null) when it holds anything the fast path does not do.
    /// </summary>
    private PreparedBundle Prepare(BulkItem item, StageClock stages) =>
        ThreadClock.Measure(() => new PreparedBundle(item, Settle(item.Bundle) is { } settled ? PrepareEntries(settled, stages) : null), ref stages.Preparing);

    /// <summary>The entries with their target ids, creates first as the transaction processing orders them, or null.</summary>
    private static List<(Resource Resource, string Type, string Id, string Method)>? Settle(Bundle bundle)
    {
        if (bundle.Type != Bundle.BundleType.Transaction)
        {
            return null;
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var targets = new HashSet<string>(StringComparer.Ordinal);
        var entries = new List<(Resource Resource, string Type, string Id, string Method)>(bundle.Entry.Count);
        foreach (var entry in bundle.Entry)
        {
            if (entry.Resource is not { } resource || resource is Bundle || entry.Request is not { } request
                || request.IfMatch is not null || request.IfNoneMatch is not null || request.IfNoneExist is not null || request.IfModifiedSince is not null)
            {
                return null;
            }

            var type = resource.TypeName;
            string id;
            if (request.Method == Bundle.HTTPVerb.POST && request.Url == type)
            {
                id = NewId();
            }
            else if (request.Method == Bundle.HTTPVerb.PUT && request.Url is { } url && url.Length > type.Length + 1
                && url.StartsWith(type, StringComparison.Ordinal) && url[type.Length] == '/'
                && ResourceWriter.IsValidId(url[(type.Length + 1)..]) && (resource.Id is null || resource.Id == url[(type.Length + 1)..]))
            {
                id = url[(type.Length + 1)..];
            }
            else
            {
                return null;
            }

            if (!targets.Add($"{type}/{id}"))
            {
                return null;
            }

            if (entry.FullUrl is { Length: > 0 } fullUrl)
            {
                map[fullUrl] = $"{type}/{id}";
            }

            entries.Add((resource, type, id, request.Method == Bundle.HTTPVerb.POST ? "POST" : "PUT"));
        }

        // Every reference is checked before any is changed, so a bundle left to the normal processing reaches it as sent.
        var rewrites = new List<(ResourceReference Reference, string Target)>();
        foreach (var (resource, _, _, _) in entries)
        {
            foreach (var reference in References(resource))
            {
                var value = reference.Reference;
                if (string.IsNullOrEmpty(value) || value.StartsWith('#'))
                {
                    continue;
                }

                if (map.TryGetValue(value, out var mapped))
                {
                    rewrites.Add((reference, mapped));
                }
                else if (value.StartsWith("urn:", StringComparison.Ordinal) || (value.IndexOf('?', StringComparison.Ordinal) is var q && q > 0 && IsConcreteResourceType(value[..q])))
                {
                    return null; // an unknown urn is an error, a conditional reference a search: the normal path does both
                }
            }
        }

        foreach (var (reference, target) in rewrites)
        {
            reference.Reference = target;
        }

        // Creates before updates, each in entry order, as the transaction processing runs them.
        return [.. entries.Where(e => e.Method == "POST"), .. entries.Where(e => e.Method == "PUT")];
    }

    private List<PreparedEntry> PrepareEntries(List<(Resource Resource, string Type, string Id, string Method)> settled, StageClock stages)
    {
        var result = new List<PreparedEntry>(settled.Count);
        foreach (var (resource, type, id, method) in settled)
        {
            var now = DateTimeOffset.FromUnixTimeMilliseconds(_clock.GetUtcNow().ToUnixTimeMilliseconds());
            resource.Id = id;
            resource.Meta ??= new Meta();
            resource.Meta.VersionId = "1";
            resource.Meta.LastUpdated = now;
            var index = ThreadClock.Measure(() => _indexer.Extract(resource), ref stages.Indexing);
            var patientKey = ResourceIndexer.PatientKey(resource, index);
            var json = ThreadClock.Measure(() => FhirSerialization.ToJson(resource), ref stages.Serialising);
            result.Add(new PreparedEntry(resource, type, id, method, now, index, patientKey, [.. IndexRows.Of(index).Where(t => t.Rows.Count > 0)]) { Json = json });
        }

        return result;
    }

    /// <summary>Tells every write observer of a batch's versions, all at once where the observer can take that.</summary>
    internal async System.Threading.Tasks.Task NotifyWrittenManyAsync(WriteScope scope, IReadOnlyList<WrittenResource> written, CancellationToken ct)
    {
        var transaction = new StoreTransaction(scope, _dialect.Kind) { Dialect = _dialect };
        foreach (var observer in _observers)
        {
            if (observer is IResourceBatchWriteObserver many)
            {
                await many.OnWrittenManyAsync(transaction, written, ct);
                continue;
            }

            foreach (var w in written)
            {
                await observer.OnWrittenAsync(transaction, w.ResourceType, w.Id, w.Resource, ct);
            }
        }
    }

    internal ResourceRepository Repository => _repository;

    internal SqlDialect Dialect => _dialect;
}
