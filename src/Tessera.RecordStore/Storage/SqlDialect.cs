using System.Data.Common;

namespace Tessera.RecordStore.Storage;

/// <summary>What differs between the two databases: connections, schema types, locking and error codes.</summary>
internal abstract class SqlDialect : IAsyncDisposable
{
    public abstract DatabaseKind Kind { get; }

    public abstract Task<DbConnection> OpenAsync(CancellationToken ct);

    /// <summary>A connection for searches, whose best plan depends on the values searched for (see <see cref="PostgresDialect"/>).</summary>
    public virtual Task<DbConnection> OpenForSearchAsync(CancellationToken ct) => OpenAsync(ct);

    /// <summary>Begins a write transaction; on SQLite it also takes the process-wide writer gate.</summary>
    public abstract Task<WriteScope> BeginWriteAsync(CancellationToken ct);

    /// <summary>
    /// Serialises conditional interactions with the same key (a type, or a type and criteria) until the
    /// transaction ends, so that two parallel conditional creates cannot both see "no match".
    /// </summary>
    public abstract Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken ct);

    /// <summary>
    /// Takes a key shared until the transaction ends: holders of it run together, and exclude only a holder of the
    /// same key taken with <see cref="LockKeyAsync"/> (a single writer needs neither).
    /// </summary>
    public virtual Task LockKeySharedAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Row lock suffix for reading the current version before writing a new one.</summary>
    public abstract string ForUpdate { get; }

    /// <summary>Whether an error is a transient conflict worth retrying (deadlock, serialization failure, busy).</summary>
    public abstract bool IsTransient(Exception e);

    /// <summary>Whether an error is a unique-key violation (an id or version that already exists).</summary>
    public abstract bool IsUniqueViolation(Exception e);

    public abstract IReadOnlyList<string> Migration(int version);

    public abstract int MigrationCount { get; }

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

/// <summary>An open connection and transaction for writes; disposing rolls back unless committed.</summary>
internal sealed class WriteScope(DbConnection connection, DbTransaction transaction, IDisposable? gate) : IAsyncDisposable
{
    private bool _done;

    public DbConnection Connection { get; } = connection;

    public DbTransaction Transaction { get; } = transaction;

    /// <summary>Version writes held back to be sent together (PostgreSQL transaction bundles), or null.</summary>
    public DeferredWrites? Deferred { get; private set; }

    /// <summary>Starts holding version writes back, where the database gains from it; false when writes stay immediate.</summary>
    public bool Defer()
    {
        if (Deferred is null && Connection is Npgsql.NpgsqlConnection npgsql)
        {
            Deferred = new DeferredWrites(npgsql, (Npgsql.NpgsqlTransaction)Transaction);
        }

        return Deferred is not null;
    }

    /// <summary>Sends any held-back writes, so that what follows reads them.</summary>
    public Task FlushAsync(CancellationToken ct) => Deferred?.FlushAsync(ct) ?? Task.CompletedTask;

    public async Task CommitAsync(CancellationToken ct)
    {
        await FlushAsync(ct);
        await Transaction.CommitAsync(ct);
        _done = true;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_done)
            {
                try
                {
                    await Transaction.RollbackAsync();
                }
                catch (InvalidOperationException)
                {
                    // The transaction already ended with its connection.
                }
            }

            if (Deferred is not null)
            {
                await Deferred.DisposeAsync();
            }

            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
        finally
        {
            gate?.Dispose();
        }
    }
}
