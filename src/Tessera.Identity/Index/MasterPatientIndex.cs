using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Identity.Matching;
using Tessera.RecordStore;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Storage;

namespace Tessera.Identity.Index;

/// <summary>
/// The master patient index on a record store. Every Patient written to the store is matched, in the order
/// written, by following the store's version log (<c>resource_version.seq</c>) from a durable cursor: the
/// record is linked to the master Patient of the person it matches, or becomes a new person, and probable
/// matches become review Tasks. Source Patients are never modified; masters are Patient resources tagged
/// urn:tessera:mpi|master with one link per source record.
/// </summary>
public sealed class MasterPatientIndex
{
    internal static readonly JsonSerializerOptions RecordJson = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    private readonly SemaphoreSlim gate = new(1, 1);
    private readonly ILogger logger;
    private LiveIndex? live;

    private MasterPatientIndex(FhirStore store, MpiOptions options, MatchModel model, ILogger logger, TimeProvider clock)
    {
        Store = store;
        Options = options;
        this.logger = logger;
        Clock = clock;
        Engine = new MatchEngine(ApplyThresholds(model, options));
    }

    public FhirStore Store { get; }

    public MpiOptions Options { get; }

    /// <summary>The engine in use: the latest model trained on this store (<c>tessera mpi train</c>), else the built-in one.</summary>
    public MatchEngine Engine { get; private set; }

    internal TimeProvider Clock { get; }

    internal ILogger Logger => logger;

    /// <summary>Creates or upgrades the index's tables and loads its model.</summary>
    public static async Task<MasterPatientIndex> OpenAsync(FhirStore store, MpiOptions? options = null, ILoggerFactory? loggers = null, TimeProvider? clock = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        await store.MigratePartAsync(MpiSchema.Part, MpiSchema.Steps, ct);
        var stored = await LoadStoredModelAsync(store, ct);
        return new MasterPatientIndex(store, options ?? new MpiOptions(), stored ?? DefaultModel(), (loggers ?? NullLoggerFactory.Instance).CreateLogger<MasterPatientIndex>(), clock ?? TimeProvider.System);
    }

    /// <summary>The model shipped with Tessera, trained on a synthetic regional population.</summary>
    public static MatchModel DefaultModel()
    {
        using var stream = typeof(MasterPatientIndex).Assembly.GetManifestResourceStream("Tessera.Identity.Index.default-model.json")
            ?? throw new InvalidOperationException("The built-in match model is missing from the assembly.");
        using var reader = new StreamReader(stream);
        return MatchModel.FromJson(reader.ReadToEnd());
    }

    /// <summary>
    /// Matches every Patient written since the cursor; returns how many resource versions were read. A catch-up after
    /// a large load (at least <see cref="StatisticsAfter"/> versions) ends by refreshing the database's statistics: it
    /// has just written a master for every person, and a planner that still thinks masters rare looks a person up by
    /// scanning every master (at 100,000 people, 40 ms instead of a fraction of one for each Patient/$everything).
    /// </summary>
    public async Task<int> CatchUpAsync(CancellationToken ct = default)
    {
        var total = 0;
        while (true)
        {
            var read = await ProcessBatchAsync(skipLocked: false, ct);
            if (read <= 0)
            {
                break;
            }

            total += read;
        }

        if (total >= StatisticsAfter)
        {
            await Store.RefreshStatisticsAsync(ct);
        }

        return total;
    }

    private const int StatisticsAfter = 100_000;

    /// <summary>Runs until cancelled: follows the version log, pausing <see cref="MpiOptions.PollInterval"/> when idle.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var background = FhirStore.InBackground();
        logger.LogInformation("Master patient index following the record store");
        while (!ct.IsCancellationRequested)
        {
            int read;
            try
            {
                read = await ProcessBatchAsync(skipLocked: true, ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // A failing batch is rolled back and retried from the same cursor; nothing is skipped.
                logger.LogError(e, "Master patient index batch failed; retrying after {Delay}", Options.PollInterval * 10);
                read = 0;
                await Delay(Options.PollInterval * 10, ct);
            }

            if (read <= 0)
            {
                await Delay(Options.PollInterval, ct);
            }
        }
    }

    /// <summary>Stores a newly trained model and uses it from now on; earlier models stay in mpi_model.</summary>
    public async Task UseModelAsync(MatchModel model, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        await Store.WriteAsync(
            tx => tx.ExecuteAsync("INSERT INTO mpi_model (id, created, json) VALUES (@id, @created, @json)", ct, ("@id", Guid.NewGuid().ToString("N")), ("@created", Clock.GetUtcNow().ToUnixTimeMilliseconds()), ("@json", model.ToJson())),
            ct);
        await gate.WaitAsync(ct);
        try
        {
            Engine = new MatchEngine(ApplyThresholds(model, Options));
            live?.UseEngine(Engine);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Every indexed source record (not deleted), for training and rebuilding.</summary>
    public async Task<IReadOnlyList<PersonRecord>> IndexedRecordsAsync(CancellationToken ct = default)
    {
        await using var connection = await Store.OpenConnectionAsync(ct);
        return await connection.QueryAsync(
            "SELECT person FROM mpi_source WHERE deleted = 0 AND quarantined = 0 AND person IS NOT NULL ORDER BY patient_id",
            r => JsonSerializer.Deserialize<PersonRecord>(r.GetString(0), RecordJson)!,
            ct);
    }

    /// <summary>Counts for reports: source records, masters, open review tasks.</summary>
    public async Task<IndexCounts> CountAsync(CancellationToken ct = default)
    {
        await using var connection = await Store.OpenConnectionAsync(ct);
        return (await connection.QueryAsync(CountSql, ReadCounts, ct))[0];
    }

    internal async Task<IndexCounts> CountAsync(StoreTransaction tx, CancellationToken ct) => (await tx.QueryAsync(CountSql, ReadCounts, ct))[0];

    /// <summary>
    /// Re-matches the whole index from the stored source records (see <see cref="IndexRebuild"/>) in one
    /// transaction holding the feed's lock, so a running server's worker waits for it (PostgreSQL: skips its
    /// rounds) and then carries on from where the rebuild left the cursor. Running it again changes nothing.
    /// </summary>
    public async Task<RebuildSummary> RebuildAsync(IProgress<RebuildProgress>? progress = null, CancellationToken ct = default)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await CatchUpAsync(ct);
        var summary = await UnderLockAsync(null, work => IndexRebuild.RunAsync(work, progress, ct), ct);
        return summary with { Elapsed = clock.Elapsed };
    }

    private const string CountSql = """
        SELECT (SELECT COUNT(*) FROM mpi_source WHERE deleted = 0),
               (SELECT COUNT(DISTINCT master_id) FROM mpi_source WHERE deleted = 0 AND master_id IS NOT NULL),
               (SELECT COUNT(*) FROM mpi_review WHERE status = 'requested'),
               (SELECT COUNT(*) FROM mpi_source WHERE deleted = 0 AND nhs_status = 'Invalid'),
               (SELECT COUNT(*) FROM mpi_source WHERE deleted = 0 AND link_kind = 'auto')
        """;

    private static IndexCounts ReadCounts(System.Data.Common.DbDataReader r) => new(r.Long(0), r.Long(1), r.Long(2), r.Long(3), r.Long(4));

    /// <summary>Runs work on the index under its lock, in the caller's transaction when it holds one.</summary>
    internal async Task<T> UnderLockAsync<T>(StoreTransaction? outer, Func<IndexWork, Task<T>> work, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            long committedGeneration = -1;
            async Task<T> Body(StoreTransaction tx)
            {
                var feed = await IndexWork.LockFeedAsync(tx, skipLocked: false, ct) ?? throw new InvalidOperationException("The index's feed cursor is missing.");
                var unit = new IndexWork(this, tx, () => LiveAsync(tx, ct), feed);
                var result = await work(unit);
                await unit.SaveFeedAsync(ct);
                committedGeneration = unit.Generation;
                return result;
            }

            var value = outer is not null ? await Body(outer) : await Store.WriteAsync(Body, ct);
            if (outer is null && live is not null && committedGeneration > live.Generation)
            {
                live.Generation = committedGeneration;
            }

            return value;
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Matches a query record against the live index (for $match), refreshed from other nodes' work first.</summary>
    internal async Task<IReadOnlyList<MatchCandidate>> MatchAsync(PersonRecord query, int maxResults, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            await using var connection = await Store.OpenConnectionAsync(ct);
            var index = await LiveAsync(connection, ct);
            return index.Match(query, maxResults);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<int> ProcessBatchAsync(bool skipLocked, CancellationToken ct)
    {
        await gate.WaitAsync(ct);
        try
        {
            long committedGeneration = -1;
            var read = await Store.WriteAsync(
                async tx =>
                {
                    // The snapshot horizon is read before this transaction takes an xid, so it does not count itself.
                    var horizon = tx.Kind == DatabaseKind.Postgres
                        ? Convert.ToInt64(await tx.ScalarAsync("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint", ct), CultureInfo.InvariantCulture)
                        : 0;
                    var feed = await IndexWork.LockFeedAsync(tx, skipLocked, ct);
                    if (feed is null)
                    {
                        return -1; // another node holds the cursor
                    }

                    var unit = new IndexWork(this, tx, () => LiveAsync(tx, ct), feed);
                    var count = await unit.FollowFeedAsync(horizon, ct);
                    await unit.SaveFeedAsync(ct);
                    committedGeneration = unit.Generation;
                    return count;
                },
                ct);
            if (live is not null && committedGeneration > live.Generation)
            {
                live.Generation = committedGeneration;
            }

            return read;
        }
        finally
        {
            gate.Release();
        }
    }

    private Task<LiveIndex> LiveAsync(StoreTransaction tx, CancellationToken ct) =>
        RefreshAsync((sql, map, parameters) => tx.QueryAsync(sql, map, ct, parameters), ct);

    private Task<LiveIndex> LiveAsync(System.Data.Common.DbConnection connection, CancellationToken ct) =>
        RefreshAsync((sql, map, parameters) => connection.QueryAsync(sql, map, ct, parameters), ct);

    /// <summary>Loads the index on first use, then applies source records indexed since (by this node or another).</summary>
    private async Task<LiveIndex> RefreshAsync(
        Func<string, Func<System.Data.Common.DbDataReader, (string Id, long Version, long Generation, string? Person, bool Gone)>, (string, object?)[], Task<List<(string Id, long Version, long Generation, string? Person, bool Gone)>>> query,
        CancellationToken ct)
    {
        live ??= new LiveIndex(Engine);
        var rows = await query(
            "SELECT patient_id, version, generation, person, deleted + quarantined FROM mpi_source WHERE generation > @g ORDER BY generation",
            r => (r.GetString(0), r.Long(1), r.Long(2), r.NullableString(3), r.Long(4) > 0),
            [("@g", live.Generation)]);
        if (live.Count == 0 && rows.Count >= 4096)
        {
            // The first load of a large index: records read in parallel and prepared at once.
            var present = rows.Where(r => !r.Gone && r.Person is not null).ToList();
            var records = new (PersonRecord, long)[present.Count];
            Parallel.For(0, present.Count, i => records[i] = (JsonSerializer.Deserialize<PersonRecord>(present[i].Person!, RecordJson)!, present[i].Version));
            live.Load(records);
            live.Generation = rows[^1].Generation;
            return live;
        }

        foreach (var (id, version, generation, person, gone) in rows)
        {
            ct.ThrowIfCancellationRequested();
            if (gone || person is null)
            {
                live.Remove(id);
            }
            else
            {
                live.Upsert(JsonSerializer.Deserialize<PersonRecord>(person, RecordJson)!, version);
            }

            live.Generation = generation;
        }

        return live;
    }

    private static async Task<MatchModel?> LoadStoredModelAsync(FhirStore store, CancellationToken ct)
    {
        await using var connection = await store.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync("SELECT json FROM mpi_model ORDER BY created DESC, id DESC", r => r.GetString(0), ct);
        return rows.Count == 0 ? null : MatchModel.FromJson(rows[0]);
    }

    /// <summary>The model with its thresholds moved to the configured probabilities, when set.</summary>
    internal static MatchModel ApplyThresholds(MatchModel model, MpiOptions options)
    {
        if (options.AutoLinkProbability is null && options.ReviewProbability is null)
        {
            return model;
        }

        var priorOdds = Math.Log2(model.Lambda / (1 - model.Lambda));
        double WeightFor(double p) => Math.Log2(p / (1 - p)) - priorOdds;
        return new MatchModel
        {
            Version = model.Version,
            Fields = model.Fields,
            Lambda = model.Lambda,
            MaxTermFrequencyAdjustment = model.MaxTermFrequencyAdjustment,
            Training = model.Training,
            AutoLinkThreshold = options.AutoLinkProbability is { } auto ? WeightFor(auto) : model.AutoLinkThreshold,
            ReviewThreshold = options.ReviewProbability is { } review ? WeightFor(review) : model.ReviewThreshold,
        };
    }

    private async Task Delay(TimeSpan delay, CancellationToken ct)
    {
        try
        {
            await Task.Delay(delay, Clock, ct);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}

/// <summary>What the index holds: source records, masters (people), open reviews, invalid NHS numbers flagged, automatic links.</summary>
public sealed record IndexCounts(long SourceRecords, long Masters, long OpenReviews, long InvalidNhsNumbers, long AutomaticLinks);
