using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Tessera.RecordStore.Storage;

internal sealed class SqliteDialect : SqlDialect
{
    private readonly string _connectionString;

    // SQLite has one writer per file; an in-process gate queues writers fairly instead of spinning on SQLITE_BUSY.
    private readonly SemaphoreSlim _writerGate = new(1, 1);
    private readonly ILogger _logger;

    /// <summary>The connections SQLite has opened that are set up already (pooled ones come back with their settings).</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, object> _configured = [];

    public SqliteDialect(string connectionString, ILogger logger)
    {
        _connectionString = connectionString;
        _logger = logger;
        Checkpointer = new SqliteCheckpointer(OpenAsync, _writerGate, logger);
    }

    /// <summary>The background checkpointer of the file's write-ahead log.</summary>
    internal SqliteCheckpointer Checkpointer { get; }

    public override DatabaseKind Kind => DatabaseKind.Sqlite;

    public override string ForUpdate => string.Empty;

    public override int MigrationCount => Schema.SqliteMigrations.Length;

    public override IReadOnlyList<string> Migration(int version) => Schema.SqliteMigrations[version];

    public override async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(ct);
        var handle = connection.Handle!;
        if (_configured.TryGetValue(handle, out _))
        {
            return connection;
        }

        // Once per connection SQLite opens (each setting lasts as long as the connection, and journal_mode=WAL as
        // long as the file): WAL lets readers work beside the writer; NORMAL keeps every commit across a process
        // kill. No commit checkpoints the log: the checkpointer does, in the background, a second after writes. A
        // log that grew while a checkpoint was slow (a flush of the file can take the disk most of a second) is cut
        // back to 64 MB when it starts over.
        await using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=60000; PRAGMA mmap_size=268435456; PRAGMA cache_size=-65536; PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=67108864;";
            await cmd.ExecuteNonQueryAsync(ct);
        }

        _configured.AddOrUpdate(handle, handle);
        return connection;
    }

    public override async Task<WriteScope> BeginWriteAsync(CancellationToken ct)
    {
        await _writerGate.WaitAsync(ct);
        var release = new Releaser(_writerGate, Checkpointer);
        try
        {
            var connection = await OpenAsync(ct);
            var transaction = ((SqliteConnection)connection).BeginTransaction(deferred: false);
            return new WriteScope(connection, transaction, release, _logger);
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

    public override async ValueTask DisposeAsync()
    {
        await Checkpointer.DisposeAsync();
        SqliteConnection.ClearAllPools();
    }

    /// <summary>Ends a write: opens the gate to the next writer and tells the checkpointer.</summary>
    private sealed class Releaser(SemaphoreSlim gate, SqliteCheckpointer checkpointer) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                gate.Release();
                checkpointer.Written();
            }
        }
    }
}
