using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Tests.Machinery;

/// <summary>
/// Letting a write's connection go after its commit never turns the stored write into a failure for its caller (a
/// client told so would send it again); before the commit, a failure there still reaches the caller.
/// </summary>
public sealed class WriteScopeTests
{
    [Fact]
    public async Task A_failure_after_the_commit_is_logged_and_the_write_stands()
    {
        var log = new Recorded();
        var (keeper, scope) = await WriteAsync("kept", log);
        await using (keeper)
        {
            await scope.CommitAsync(default);

            await scope.DisposeAsync();

            var (level, exception) = Assert.Single(log.Entries);
            Assert.Equal(LogLevel.Error, level);
            Assert.IsType<InvalidOperationException>(exception);
            Assert.Equal("kept", await RowsAsync(keeper));
        }
    }

    [Fact]
    public async Task A_failure_before_the_commit_reaches_the_caller_and_nothing_is_written()
    {
        var log = new Recorded();
        var (keeper, scope) = await WriteAsync("rolled back", log);
        await using (keeper)
        {
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await scope.DisposeAsync());

            Assert.Empty(log.Entries);
            Assert.Null(await RowsAsync(keeper));
        }
    }

    /// <summary>
    /// A shared in-memory database with one table, kept alive by the first connection returned (the scope closes its
    /// own), and a scope whose gate fails to release, holding an uncommitted insert of <paramref name="value"/>.
    /// </summary>
    private static async Task<(SqliteConnection Keeper, WriteScope Scope)> WriteAsync(string value, ILogger log)
    {
        var keeper = new SqliteConnection($"Data Source=write-scope-{Guid.NewGuid():N};Mode=Memory;Cache=Shared");
        await keeper.OpenAsync();
        await using (var create = keeper.CreateCommand())
        {
            create.CommandText = "CREATE TABLE t (v TEXT)";
            await create.ExecuteNonQueryAsync();
        }

        var connection = new SqliteConnection(keeper.ConnectionString);
        await connection.OpenAsync();
        var scope = new WriteScope(connection, connection.BeginTransaction(), new FailingGate(), log);
        await using var insert = connection.CreateCommand();
        insert.Transaction = (SqliteTransaction)scope.Transaction;
        insert.CommandText = "INSERT INTO t (v) VALUES ($v)";
        insert.Parameters.Add(new SqliteParameter("$v", value));
        await insert.ExecuteNonQueryAsync();
        return (keeper, scope);
    }

    /// <summary>The values stored, comma-separated; null when there are none.</summary>
    private static async Task<string?> RowsAsync(SqliteConnection keeper)
    {
        await using var select = keeper.CreateCommand();
        select.CommandText = "SELECT group_concat(v, ',') FROM t";
        return await select.ExecuteScalarAsync() as string;
    }

    /// <summary>A writer gate whose release fails, as the SQLite checkpointer's signal once did.</summary>
    private sealed class FailingGate : IDisposable
    {
        public void Dispose() => throw new InvalidOperationException("the gate could not be released");
    }

    private sealed class Recorded : ILogger
    {
        public List<(LogLevel Level, Exception? Exception)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, exception));
    }
}
