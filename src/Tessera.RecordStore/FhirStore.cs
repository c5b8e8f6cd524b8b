using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Search;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore;

/// <summary>
/// The record store: FHIR R4 resources with every version kept and a search index, on SQLite or
/// PostgreSQL. Every interaction goes through <see cref="ExecuteAsync"/>, whether it came over HTTP,
/// from a bundle, a feed or the command line.
/// </summary>
public sealed partial class FhirStore : IAsyncDisposable
{
    private readonly SqlDialect _dialect;
    private readonly ResourceRepository _repository;
    private readonly ResourceIndexer _indexer;
    private readonly ResourceWriter _writer;
    private readonly SearchExecutor _search;
    private readonly ResiliencePipeline _retry;
    private readonly ILogger _logger;
    private readonly CustomSearchParameters _customParameters;
    private readonly TimeProvider _clock;

    private FhirStore(SqlDialect dialect, DatabaseLocation location, TimeProvider clock, ILogger logger)
    {
        _dialect = dialect;
        _clock = clock;
        Location = location;
        _logger = logger;
        _repository = new ResourceRepository(dialect);
        _indexer = new ResourceIndexer(Registry);
        _writer = new ResourceWriter(_repository, _indexer, clock) { Written = NotifyWrittenAsync };
        _search = new SearchExecutor(_repository, Registry);
        _retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<Exception>(dialect.IsTransient),
                MaxRetryAttempts = 8,
                Delay = TimeSpan.FromMilliseconds(20),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
            })
            .Build();

        // The store's own search operations, so every host (web, CLI, tests) answers them.
        Operations.Register(new EverythingOperation());
        _customParameters = new CustomSearchParameters(Registry);
        AddWriteObserver(_customParameters);
    }

    public DatabaseLocation Location { get; }

    /// <summary>The search parameters of this store: R4 core, the common ones, and its active custom SearchParameters.</summary>
    public SearchParameterRegistry Registry { get; } = SearchParameterRegistry.ForStore();

    /// <summary>The extended operations this store answers; parts above the store register theirs at start-up.</summary>
    public OperationRegistry Operations { get; } = new();

    /// <summary>Opens a store, creating or upgrading its schema first.</summary>
    public static async Task<FhirStore> OpenAsync(DatabaseLocation location, ILoggerFactory? loggers = null, TimeProvider? clock = null, CancellationToken ct = default)
    {
        var logger = (loggers ?? NullLoggerFactory.Instance).CreateLogger<FhirStore>();
        SqlDialect dialect = location.Kind switch
        {
            DatabaseKind.Sqlite => new SqliteDialect(location.ConnectionString, logger),
            _ => new PostgresDialect(location.ConnectionString, logger),
        };
        try
        {
            await SchemaMigrator.MigrateAsync(dialect, ct);
        }
        catch
        {
            await dialect.DisposeAsync();
            throw;
        }

        var store = new FhirStore(dialect, location, clock ?? TimeProvider.System, logger);
        try
        {
            await store.LoadCustomSearchParametersAsync(ct);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }

        return store;
    }

    /// <summary>Runs one interaction; FHIR errors come back as responses with an OperationOutcome.</summary>
    public Task<FhirResponse> ExecuteAsync(FhirRequest request, CancellationToken ct = default) => RunAsync(request, null, ct);

    /// <summary>Dispatches one interaction, turning FHIR errors into responses with their OperationOutcome.</summary>
    private async Task<FhirResponse> RunAsync(FhirRequest request, WriteScope? scope, CancellationToken ct)
    {
        try
        {
            return await DispatchAsync(request, scope, ct);
        }
        catch (FhirException e)
        {
            return new FhirResponse { Status = e.Status, Resource = e.Outcome, Outcome = e.Outcome };
        }
    }

    /// <summary>
    /// Runs work in one write transaction, retried as a whole on a transient conflict. <paramref name="hold"/>: the
    /// work is one interaction of the store's, nobody else reads through its transaction, so its writes may be held
    /// back and sent with the commit (<see cref="WriteScope.MayHold"/>).
    /// </summary>
    private async Task<T> InWriteAsync<T>(WriteScope? outer, Func<WriteScope, Task<T>> work, CancellationToken ct, bool hold = false)
    {
        if (outer is not null)
        {
            return await work(outer);
        }

        return await _retry.ExecuteAsync(async token =>
        {
            await using var scope = await _dialect.BeginWriteAsync(token);
            scope.MayHold = hold;
            var result = await work(scope);
            try
            {
                await scope.CommitAsync(token);
            }
            catch (DeferredWriteException e)
            {
                throw FhirException.Conflict($"The resource id or version already exists: {e.Message}");
            }

            return result;
        }, ct);
    }

    internal static string NewId() => ResourceWriter.NewId();

    public async ValueTask DisposeAsync() => await _dialect.DisposeAsync();

    /// <summary>The background checkpointer of a SQLite store's write-ahead log; null on PostgreSQL.</summary>
    internal SqliteCheckpointer? Checkpointer => (_dialect as SqliteDialect)?.Checkpointer;

    /// <summary>Counts current, live resources per type — for summaries and the demo loader.</summary>
    public async Task<Dictionary<string, long>> CountByTypeAsync(CancellationToken ct = default)
    {
        await using var connection = await _dialect.OpenAsync(ct);
        await using var cmd = Db.Command(connection, null, "SELECT resource_type, COUNT(*) FROM resource WHERE deleted = 0 GROUP BY resource_type");
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var result = new Dictionary<string, long>(StringComparer.Ordinal);
        while (await reader.ReadAsync(ct))
        {
            result[reader.GetString(0)] = reader.GetInt64(1);
        }

        return result;
    }

    private void LogWrite(FhirResponse response) =>
        _logger.LogDebug("Wrote {ResourceType}/{Id} version {Version} ({Status})", response.ResourceType, response.Id, response.Version, response.Status);

    private static bool IsConcreteResourceType(string type) =>
        ModelInfo.IsKnownResource(type) && type is not ("Resource" or "DomainResource");
}
