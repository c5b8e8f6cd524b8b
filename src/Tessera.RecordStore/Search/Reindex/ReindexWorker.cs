using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.RecordStore.Operations;

namespace Tessera.RecordStore.Search.Reindex;

/// <summary>
/// Runs reindex jobs: claims the oldest queued job (or a running one whose worker stopped sending heartbeats),
/// and re-extracts the search index of its resources in batches, one transaction per batch, moving the job's
/// cursor and heartbeat with each. A job whose worker dies is taken over from its cursor once its heartbeat is
/// older than <see cref="StaleAfter"/>, by this node or another; a job never waits without a worker for longer.
/// </summary>
public sealed class ReindexWorker
{
    private readonly FhirStore _store;
    private readonly TimeProvider _clock;
    private readonly ILogger _logger;

    internal ReindexWorker(FhirStore store, TimeProvider clock, ILogger logger)
    {
        _store = store;
        _clock = clock;
        _logger = logger;
    }

    /// <summary>This worker's name on the jobs it claims.</summary>
    public string Owner { get; } = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Resources per batch (one transaction each).</summary>
    public int BatchSize { get; init; } = 200;

    /// <summary>How old a running job's heartbeat may be before another worker takes it over.</summary>
    public TimeSpan StaleAfter { get; init; } = ReindexDefaults.StaleAfter;

    /// <summary>How often an idle worker looks for work.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Runs until cancelled: works through the jobs there are, then waits for more.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var background = FhirStore.InBackground();
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await RunOnceAsync(int.MaxValue, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The job keeps its cursor and last error; it is taken over once its heartbeat is stale.
                _logger.LogError(e, "Reindex worker {Owner} failed; retrying in {Interval}", Owner, PollInterval);
            }

            try
            {
                await Task.Delay(PollInterval, _clock, ct);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Works through claimable jobs, at most <paramref name="maxBatches"/> batches; returns the batches run.</summary>
    public async Task<int> RunOnceAsync(int maxBatches, CancellationToken ct = default)
    {
        var batches = 0;
        while (batches < maxBatches)
        {
            var now = _clock.GetUtcNow();
            var job = await _store.WriteAsync(tx => ReindexJobs.ClaimAsync(tx, Owner, now, now - StaleAfter, ct), ct);
            if (job is null)
            {
                return batches;
            }

            _logger.LogInformation("Reindex job {Job} ({Scope}) claimed by {Owner} at {Done} of {Total}", job.Id, job.Scope, Owner, job.Done + job.Failed, job.Total);
            while (batches < maxBatches)
            {
                BatchResult result;
                try
                {
                    result = await _store.ReindexBatchAsync(job.Id, Owner, BatchSize, _clock.GetUtcNow(), ct);
                }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    await _store.WriteAsync(async tx =>
                    {
                        await ReindexJobs.RecordErrorAsync(tx, job.Id, e.Message, ct);
                        return 0;
                    }, ct);
                    throw;
                }

                batches++;
                if (result != BatchResult.More)
                {
                    _logger.LogInformation("Reindex job {Job} {Outcome}", job.Id, result == BatchResult.Finished ? "completed" : "taken over by another worker");
                    break;
                }
            }
        }

        return batches;
    }
}

/// <summary>What one batch left: more to do, the job finished, or the job is no longer this worker's.</summary>
internal enum BatchResult
{
    More,
    Finished,
    Lost,
}

/// <summary>Registers the search part on a store.</summary>
public static class SearchPartExtensions
{
    /// <summary>
    /// Creates the search part's tables, registers <c>$reindex</c> and <c>$reindex-status</c>, and returns the worker
    /// that runs reindex jobs (the host runs <see cref="ReindexWorker.RunAsync"/> in the background).
    /// </summary>
    public static async Task<ReindexWorker> AddSearchOperationsAsync(this FhirStore store, ILoggerFactory? loggers = null, TimeProvider? clock = null, CancellationToken ct = default)
    {
        await store.MigratePartAsync("search", ReindexJobs.Migrations, ct);
        clock ??= TimeProvider.System;
        if (!store.Operations.All.Any(o => o.Name == ReindexOperation.OperationName))
        {
            store.Operations.Register(new ReindexOperation(clock));
            store.Operations.Register(new ReindexStatusOperation(clock));
        }

        return new ReindexWorker(store, clock, (loggers ?? NullLoggerFactory.Instance).CreateLogger<ReindexWorker>());
    }
}
