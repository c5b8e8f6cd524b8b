using System.Data.Common;
using System.Globalization;
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
    public async Task<FhirResponse> ExecuteAsync(FhirRequest request, StoreTransaction transaction, CancellationToken ct = default)
    {
        try
        {
            return await DispatchAsync(request, transaction.Scope, ct);
        }
        catch (FhirException e)
        {
            return new FhirResponse { Status = e.Status, Resource = e.Outcome, Outcome = e.Outcome };
        }
    }

    /// <summary>An open connection for reading the parts' own tables; the caller disposes it.</summary>
    public Task<DbConnection> OpenConnectionAsync(CancellationToken ct = default) => _dialect.OpenAsync(ct);

    /// <summary>
    /// Creates or upgrades a part's own tables (e.g. "integration", "identity", "governance"). Steps are applied
    /// in order, once each, under the schema lock, so several nodes may start together.
    /// </summary>
    public async Task MigratePartAsync(string part, IReadOnlyList<PartMigration> steps, CancellationToken ct = default)
    {
        await using var scope = await _dialect.BeginWriteAsync(ct);
        await _dialect.LockKeyAsync(scope.Connection, scope.Transaction, "tessera-schema", ct);
        await Db.ExecuteAsync(scope, "CREATE TABLE IF NOT EXISTS tessera_part_schema (part TEXT PRIMARY KEY, version INTEGER NOT NULL)", ct);
        var current = Convert.ToInt32(await Db.ScalarAsync(scope, "SELECT COALESCE(MAX(version), 0) FROM tessera_part_schema WHERE part = @part", ct, ("@part", part)) ?? 0, CultureInfo.InvariantCulture);
        if (current > steps.Count)
        {
            throw new InvalidOperationException($"The database's {part} schema is version {current}, newer than this Tessera knows ({steps.Count}). Upgrade Tessera before using this database.");
        }

        for (var v = current; v < steps.Count; v++)
        {
            await Db.ExecuteAsync(scope, _dialect.Kind == DatabaseKind.Sqlite ? steps[v].Sqlite : steps[v].Postgres, ct);
        }

        if (steps.Count > current)
        {
            await Db.ExecuteAsync(scope, current == 0 ? "INSERT INTO tessera_part_schema (part, version) VALUES (@part, @v)" : "UPDATE tessera_part_schema SET version = @v WHERE part = @part", ct, ("@part", part), ("@v", steps.Count));
        }

        await scope.CommitAsync(ct);
    }
}
