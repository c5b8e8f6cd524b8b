using Npgsql;
using Tessera.RecordStore.Storage;

namespace Tessera.Testing;

/// <summary>
/// Fresh databases for tests: a temporary SQLite file, or a new PostgreSQL database on the server named by
/// TESSERA_TEST_PG (scripts/test.sh starts one). Each is dropped when the test class is done.
/// </summary>
public sealed class TestDatabase : IAsyncDisposable
{
    public const string PostgresVariable = "TESSERA_TEST_PG";

    private readonly string? _sqliteDirectory;
    private readonly string? _postgresName;

    private TestDatabase(DatabaseLocation location, string? sqliteDirectory, string? postgresName)
    {
        Location = location;
        _sqliteDirectory = sqliteDirectory;
        _postgresName = postgresName;
    }

    public DatabaseLocation Location { get; }

    public static async Task<TestDatabase> CreateAsync(string backend)
    {
        if (backend == "sqlite")
        {
            var dir = Path.Combine(Path.GetTempPath(), "tessera-test-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            return new TestDatabase(DatabaseLocation.FromSqlitePath(Path.Combine(dir, "store.db")), dir, null);
        }

        var admin = AdminConnectionString();
        var name = "tessera_t_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await cmd.ExecuteNonQueryAsync();
        }

        var builder = new NpgsqlConnectionStringBuilder(admin) { Database = name, MaxPoolSize = 60 };
        return new TestDatabase(new DatabaseLocation(DatabaseKind.Postgres, builder.ConnectionString), null, name);
    }

    public static string AdminConnectionString() =>
        Environment.GetEnvironmentVariable(PostgresVariable) is { Length: > 0 } pg
            ? pg
            : throw new InvalidOperationException($"PostgreSQL tests need {PostgresVariable} (a connection string to a server where the user may create databases). Run scripts/test.sh, which starts one.");

    public async ValueTask DisposeAsync()
    {
        if (_sqliteDirectory is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try
            {
                Directory.Delete(_sqliteDirectory, true);
            }
            catch (IOException)
            {
                // A file still held open is left to the temp folder's own cleanup.
            }
        }

        if (_postgresName is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(AdminConnectionString());
            await connection.OpenAsync();
            await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS {_postgresName} WITH (FORCE)", connection);
            await cmd.ExecuteNonQueryAsync();
        }
    }
}

/// <summary>Finds the shared test corpora beside the repository.</summary>
public static class Corpora
{
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tessera.slnx")))
            {
                dir = dir.Parent;
            }

            if (dir is null)
            {
                throw new InvalidOperationException("Cannot find the repository root (Tessera.slnx) above the test binaries.");
            }

            var corpora = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "corpora"));
            return Directory.Exists(corpora)
                ? corpora
                : throw new InvalidOperationException($"The shared test corpora are missing: expected them in ../shared/corpora beside the repository.");
        }
    }
}
