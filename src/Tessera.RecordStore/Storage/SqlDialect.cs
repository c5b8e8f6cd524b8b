using System.Data.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Tessera.RecordStore.Storage;

/// <summary>What differs between the two databases: connections, schema types, locking and error codes.</summary>
internal abstract class SqlDialect : IAsyncDisposable
{
    public abstract DatabaseKind Kind { get; }

    public abstract Task<DbConnection> OpenAsync(CancellationToken ct);

    /// <summary>A connection for searches, whose best plan depends on the values searched for (see <see cref="PostgresDialect"/>).</summary>
    public Task<DbConnection> OpenForSearchAsync(CancellationToken ct) => OpenForSearchAsync(plansAlike: false, ct);

    /// <summary>
    /// A connection for a search; <paramref name="plansAlike"/> when one plan of it is right for every value it is run
    /// with (<see cref="Search.PinnedPatient.AloneDecides"/>), so the connection may keep a generic plan of it.
    /// </summary>
    public virtual Task<DbConnection> OpenForSearchAsync(bool plansAlike, CancellationToken ct) => OpenAsync(ct);

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
internal sealed class WriteScope(DbConnection connection, DbTransaction transaction, IDisposable? gate, ILogger? logger = null) : IAsyncDisposable
{
    private readonly List<BeforeCommitGroup> _beforeCommit = [];
    private bool _done;

    public DbConnection Connection { get; } = connection;

    /// <summary>
    /// Whether only one interaction of the store uses this scope until it commits, so that its version writes may be
    /// held back and sent with the commit. False for transactions lent to the parts above the store, which read their
    /// own writes through the connection.
    /// </summary>
    public bool MayHold { get; set; }

    /// <summary>Whether work queued with <see cref="BeforeCommit"/> is running: its statements join the held-back writes.</summary>
    public bool Committing { get; private set; }

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

    /// <summary>
    /// Queues an item for work run once, just before this transaction commits, with every item queued under the same
    /// key (e.g. the audit events of a transaction bundle's entries, appended in one statement instead of one each).
    /// </summary>
    public void BeforeCommit<T>(string key, T item, Func<IReadOnlyList<T>, CancellationToken, Task> run)
    {
        foreach (var group in _beforeCommit)
        {
            if (group is BeforeCommitGroup<T> same && same.Key == key)
            {
                same.Items.Add(item);
                return;
            }
        }

        _beforeCommit.Add(new BeforeCommitGroup<T>(key, run, [item]));
    }

    /// <summary>Runs the work queued for the commit and sends everything held back; what fails here fails the transaction.</summary>
    public async Task PrepareCommitAsync(CancellationToken ct)
    {
        await RunBeforeCommitAsync(ct);
        await FlushAsync(ct);
    }

    private async Task RunBeforeCommitAsync(CancellationToken ct)
    {
        while (_beforeCommit.Count > 0)
        {
            var groups = _beforeCommit.ToArray();
            _beforeCommit.Clear();
            Committing = true;
            try
            {
                foreach (var group in groups)
                {
                    await group.RunAsync(ct);
                }
            }
            finally
            {
                Committing = false;
            }
        }
    }

    public async Task CommitAsync(CancellationToken ct)
    {
        await RunBeforeCommitAsync(ct);
        // Held-back writes take the COMMIT with them: one round trip to the database instead of two.
        if (Deferred is not { } held || !await held.FlushAndCommitAsync(ct))
        {
            await Transaction.CommitAsync(ct);
        }

        _done = true;
    }

    private abstract class BeforeCommitGroup
    {
        public abstract Task RunAsync(CancellationToken ct);
    }

    private sealed class BeforeCommitGroup<T>(string key, Func<IReadOnlyList<T>, CancellationToken, Task> run, List<T> items) : BeforeCommitGroup
    {
        public string Key { get; } = key;

        public List<T> Items { get; } = items;

        public override Task RunAsync(CancellationToken ct) => run(Items, ct);
    }

    /// <summary>
    /// Rolls back unless committed, and lets the connection go. Once the transaction has committed, nothing that fails
    /// here reaches the caller: the write is stored, and a client told otherwise would send it again (a second
    /// resource, a second message). It is logged as an error instead.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await ReleaseAsync();
        }
        catch (Exception e) when (_done)
        {
            (logger ?? NullLogger.Instance).LogError(e, "A write committed, but letting its connection go failed; the write stands");
        }
        finally
        {
            foreach (var (_, action) in _afterEnd)
            {
                action();
            }
        }
    }

    private readonly List<(string Key, Action Action)> _afterEnd = [];

    /// <summary>
    /// Runs <paramref name="action"/> once this transaction has ended, committed or rolled back, before the interaction
    /// that wrote in it answers; one action per <paramref name="key"/>, however often it is asked for. It must not throw.
    /// </summary>
    public void AfterEnd(string key, Action action)
    {
        foreach (var (existing, _) in _afterEnd)
        {
            if (existing == key)
            {
                return;
            }
        }

        _afterEnd.Add((key, action));
    }

    private async ValueTask ReleaseAsync()
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
