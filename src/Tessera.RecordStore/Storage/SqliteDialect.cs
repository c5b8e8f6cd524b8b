using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Tessera.RecordStore.Storage;

internal sealed class SqliteDialect(string connectionString) : SqlDialect
{
    // SQLite has one writer per file; an in-process gate queues writers fairly instead of spinning on SQLITE_BUSY.
    private readonly SemaphoreSlim _writerGate = new(1, 1);

    public override DatabaseKind Kind => DatabaseKind.Sqlite;

    public override string ForUpdate => string.Empty;

    public override int MigrationCount => Schema.SqliteMigrations.Length;

    public override IReadOnlyList<string> Migration(int version) => Schema.SqliteMigrations[version];

    public override async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var cmd = connection.CreateCommand();
        // WAL lets readers work beside the writer; NORMAL keeps every commit across a process kill.
        cmd.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=60000; PRAGMA mmap_size=268435456; PRAGMA cache_size=-65536;";
        await cmd.ExecuteNonQueryAsync(ct);
        return connection;
    }

    public override async Task<WriteScope> BeginWriteAsync(CancellationToken ct)
    {
        await _writerGate.WaitAsync(ct);
        var release = new Releaser(_writerGate);
        try
        {
            var connection = await OpenAsync(ct);
            var transaction = ((SqliteConnection)connection).BeginTransaction(deferred: false);
            return new WriteScope(connection, transaction, release);
        }
        catch
        {
            release.Dispose();
            throw;
        }
    }

    public override Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken ct) => Task.CompletedTask;

    public override bool IsTransient(Exception e) => e is SqliteException { SqliteErrorCode: 5 or 6 };

    // SQLITE_CONSTRAINT_PRIMARYKEY (1555) and SQLITE_CONSTRAINT_UNIQUE (2067).
    public override bool IsUniqueViolation(Exception e) => e is SqliteException { SqliteExtendedErrorCode: 1555 or 2067 };

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        return ValueTask.CompletedTask;
    }

    private sealed class Releaser(SemaphoreSlim gate) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
            }
        }
    }
}
