using System.Data.Common;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Machinery;

/// <summary>
/// A write transaction on the store's database, lent to the parts above the store (Identity, Integration,
/// Governance) for their own tables — queues, inboxes, audit — and for FHIR interactions that must commit
/// together with them (<see cref="FhirStore.ExecuteAsync(Interactions.FhirRequest, StoreTransaction, CancellationToken)"/>).
/// </summary>
public sealed class StoreTransaction
{
    internal StoreTransaction(WriteScope scope, DatabaseKind kind)
    {
        Scope = scope;
        Kind = kind;
    }

    public DatabaseKind Kind { get; }

    public DbConnection Connection => Scope.Connection;

    public DbTransaction Transaction => Scope.Transaction;

    internal WriteScope Scope { get; }

    /// <summary>A command in this transaction; parameters are named as in the SQL ("@name").</summary>
    public DbCommand Command(string sql, params (string Name, object? Value)[] parameters)
    {
        if (Scope is { Committing: true, Deferred: { } held })
        {
            // Work run before the commit reads what it has just written.
            held.Flush();
        }

        return Db.Command(Connection, Transaction, sql, parameters);
    }

    /// <summary>
    /// Queues <paramref name="item"/> for <paramref name="run"/>, called once just before this transaction commits with
    /// every item queued under <paramref name="key"/>: e.g. the audit events of a transaction bundle's entries written
    /// in one statement. It runs inside the transaction, so its rows commit or roll back with the rest.
    /// </summary>
    public void BeforeCommit<T>(string key, T item, Func<StoreTransaction, IReadOnlyList<T>, CancellationToken, Task> run) =>
        Scope.BeforeCommit(key, item, (items, ct) => run(this, items, ct));

    /// <summary>
    /// Runs <paramref name="action"/> once the transaction has ended (committed or rolled back), before the interaction
    /// answers; once per <paramref name="key"/>. E.g. to drop what a part remembered of rows the transaction changed.
    /// </summary>
    public void AfterEnd(string key, Action action) => Scope.AfterEnd(key, action);

    /// <summary>
    /// Runs a statement and returns the rows it changed. In work queued with <see cref="BeforeCommit"/> on PostgreSQL the
    /// statement is sent with the transaction's held-back writes, in the round trip before the commit, and -1 is
    /// returned (the count is not known yet).
    /// </summary>
    public async Task<int> ExecuteAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        if (Scope is { Committing: true, Deferred: { } held })
        {
            await held.AddStatementAsync(sql, parameters, ct);
            return -1;
        }

        await using var cmd = Command(sql, parameters);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<object?> ScalarAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        if (Scope.Committing)
        {
            await Scope.FlushAsync(ct);
        }

        await using var cmd = Command(sql, parameters);
        var value = await cmd.ExecuteScalarAsync(ct);
        return value is DBNull ? null : value;
    }

    /// <summary>Serialises work on a key until this transaction ends (an advisory lock on PostgreSQL; SQLite has one writer anyway).</summary>
    public Task LockAsync(string key, CancellationToken ct) => Dialect.LockKeyAsync(Connection, Transaction, key, ct);

    internal SqlDialect Dialect { get; init; } = null!;
}

/// <summary>One step of a part's own schema: the statements for each database kind.</summary>
public sealed record PartMigration(string Sqlite, string Postgres);
