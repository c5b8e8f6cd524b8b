using System.Data.Common;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore;

/// <summary>The store's database lent to the parts above it, through the same writer gate, locks and retries.</summary>
public sealed partial class FhirStore
{
    public DatabaseKind Kind => _dialect.Kind;

    /// <summary>
    /// Runs work in one write transaction, retried as a whole on a transient conflict (so the work must be
    /// repeatable), committed when it returns and rolled back when it throws.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<StoreTransaction, Task<T>> work, CancellationToken ct = default) =>
        InWriteAsync(null, scope => work(new StoreTransaction(scope, _dialect.Kind) { Dialect = _dialect }), ct);

    /// <summary>
    /// Runs one interaction inside a transaction the caller holds: it commits or rolls back with the caller's
    /// own rows. FHIR errors come back as responses; throw to roll the transaction back.
    /// </summary>
    public Task<FhirResponse> ExecuteAsync(FhirRequest request, StoreTransaction transaction, CancellationToken ct = default) =>
        RunAsync(request, transaction.Scope, ct);

    /// <summary>An open connection for reading the parts' own tables; the caller disposes it.</summary>
    public Task<DbConnection> OpenConnectionAsync(CancellationToken ct = default) => _dialect.OpenAsync(ct);

    /// <summary>
    /// Marks the work of this async flow as background work (a writer or worker loop: the audit writer, the master
    /// patient index's catch-up, $reindex jobs) until the returned scope is disposed. On PostgreSQL its connections
    /// then come from the configured pool, never from the few hot ones that keep a quiet server's requests on the
    /// same backends (see docs/operations.md). Call it at the start of the loop's own task.
    /// </summary>
    public static BackgroundScope InBackground()
    {
        var outer = PostgresConnections.Background.Value;
        PostgresConnections.Background.Value = true;
        return new BackgroundScope(outer);
    }

    /// <summary>Background work, until disposed (see <see cref="InBackground"/>).</summary>
    public readonly struct BackgroundScope : IDisposable
    {
        private readonly bool _outer;

        internal BackgroundScope(bool outer) => _outer = outer;

        public void Dispose() => PostgresConnections.Background.Value = _outer;
    }

    /// <summary>
    /// Creates or upgrades a part's own tables (e.g. "integration", "identity", "governance"). Steps are applied
    /// in order, once each, under the schema lock, so several nodes may start together.
    /// </summary>
    public Task MigratePartAsync(string part, IReadOnlyList<PartMigration> steps, CancellationToken ct = default) =>
        SchemaMigrator.MigratePartAsync(_dialect, part, [.. steps.Select(s => _dialect.Kind == DatabaseKind.Sqlite ? s.Sqlite : s.Postgres)], ct);
}
