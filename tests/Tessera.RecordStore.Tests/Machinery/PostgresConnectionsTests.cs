using Npgsql;
using Tessera.RecordStore.Storage;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Machinery;

/// <summary>
/// The store's PostgreSQL connections come first from a small pool of hot connections (see
/// <see cref="PostgresConnections"/>), taken first free first: after a busy spell a quiet store must keep to one
/// backend instead of going round every connection the busy spell opened, and every hot place taken must be given
/// back, however the connection ends.
/// </summary>
public sealed class PostgresConnectionsTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync("postgres");

    public async Task DisposeAsync() => await _database.DisposeAsync();

    private static async Task<int> BackendAsync(NpgsqlConnection connection)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_backend_pid()", connection);
        return (int)(await cmd.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_quiet_store_keeps_to_its_hot_connections_after_a_busy_spell()
    {
        await using var connections = PostgresDialect.Build(_database.Location.ConnectionString, planPerExecution: false);
        Assert.Equal(PostgresDialect.HotConnections, connections.HotSize);

        // A busy spell: more connections open at once than there are hot ones.
        var busy = new List<NpgsqlConnection>();
        var busyBackends = new HashSet<int>();
        for (var i = 0; i < connections.HotSize + 4; i++)
        {
            var connection = await connections.OpenAsync(default);
            busy.Add(connection);
            busyBackends.Add(await BackendAsync(connection));
            Assert.Equal(Math.Min(i + 1, connections.HotSize), connections.HotInUse);
        }

        Assert.Equal(connections.HotSize + 4, busyBackends.Count);
        foreach (var connection in busy)
        {
            await connection.DisposeAsync();
        }

        Assert.Equal(0, connections.HotInUse);

        // Then one request at a time: Npgsql's own pool would hand out each of the idle connections in turn.
        var quietBackends = new HashSet<int>();
        for (var i = 0; i < 3 * busy.Count; i++)
        {
            await using var connection = await connections.OpenAsync(default);
            quietBackends.Add(await BackendAsync(connection));
        }

        Assert.Contains(Assert.Single(quietBackends), busyBackends);
        Assert.Equal(0, connections.HotInUse);
    }

    [Fact]
    public async Task One_request_at_a_time_keeps_to_the_first_backend_while_another_connection_comes_and_goes()
    {
        await using var connections = PostgresDialect.Build(_database.Location.ConnectionString, planPerExecution: false);
        var first = await OneOpenAsync(connections);

        // Now and then a second connection while a request holds the first (two requests overlapping): Npgsql's pool
        // would from then on hand out the two in turn.
        var seen = new List<int>();
        for (var i = 0; i < 20; i++)
        {
            await using var request = await connections.OpenAsync(default);
            seen.Add(await BackendAsync(request));
            if (i % 5 == 0)
            {
                await using var overlapping = await connections.OpenAsync(default);
                Assert.NotEqual(first, await BackendAsync(overlapping));
                Assert.Equal(2, connections.HotInUse);
            }
        }

        Assert.All(seen, backend => Assert.Equal(first, backend));
        Assert.Equal(0, connections.HotInUse);
    }

    [Fact]
    public async Task Background_work_takes_no_hot_place()
    {
        await using var connections = PostgresDialect.Build(_database.Location.ConnectionString, planPerExecution: false);
        var first = await OneOpenAsync(connections);

        await Task.Run(async () =>
        {
            using var background = FhirStore.InBackground();
            await using var writer = await connections.OpenAsync(default);
            Assert.Equal(0, connections.HotInUse);
            Assert.NotEqual(first, await BackendAsync(writer));

            // A request meanwhile still finds the first place free.
            await using var request = await RequestAsync(connections);
            Assert.Equal(first, await BackendAsync(request));
            Assert.Equal(1, connections.HotInUse);
        });

        // The mark ends with the scope, and never reached this flow.
        Assert.Equal(first, await OneOpenAsync(connections));
        Assert.Equal(0, connections.HotInUse);
    }

    /// <summary>The backend of one connection opened and closed again.</summary>
    private static async Task<int> OneOpenAsync(PostgresConnections connections)
    {
        await using var connection = await connections.OpenAsync(default);
        return await BackendAsync(connection);
    }

    /// <summary>An open from another flow that is not background work.</summary>
    private static Task<NpgsqlConnection> RequestAsync(PostgresConnections connections)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return Task.Run(() => connections.OpenAsync(default));
        }
    }

    [Fact]
    public async Task A_hot_connection_that_breaks_gives_its_place_back()
    {
        await using var connections = PostgresDialect.Build(_database.Location.ConnectionString, planPerExecution: false);
        var broken = await connections.OpenAsync(default);
        var pid = await BackendAsync(broken);
        Assert.Equal(1, connections.HotInUse);

        await using (var other = new NpgsqlConnection(_database.Location.ConnectionString))
        {
            await other.OpenAsync();
            await using var kill = new NpgsqlCommand($"SELECT pg_terminate_backend({pid})", other);
            await kill.ExecuteNonQueryAsync();
        }

        await Assert.ThrowsAnyAsync<NpgsqlException>(() => BackendAsync(broken));
        Assert.Equal(0, connections.HotInUse);
        await broken.DisposeAsync(); // closing it again changes nothing
        Assert.Equal(0, connections.HotInUse);

        await using var next = await connections.OpenAsync(default);
        Assert.NotEqual(pid, await BackendAsync(next));
        Assert.Equal(1, connections.HotInUse);
    }

    [Fact]
    public async Task Many_users_at_once_all_get_connections_and_give_the_hot_ones_back()
    {
        await using var connections = PostgresDialect.Build(_database.Location.ConnectionString, planPerExecution: true);
        var answered = 0;
        await Parallel.ForAsync(0, 400, new ParallelOptions { MaxDegreeOfParallelism = 24 }, async (_, ct) =>
        {
            await using var connection = await connections.OpenAsync(ct);
            Assert.InRange(connections.HotInUse, 0, connections.HotSize);
            if (await BackendAsync(connection) > 0)
            {
                Interlocked.Increment(ref answered);
            }
        });

        Assert.Equal(400, answered);
        Assert.Equal(0, connections.HotInUse);
    }

    [Fact]
    public async Task The_connection_string_bounds_the_hot_pool()
    {
        var settings = new NpgsqlConnectionStringBuilder(_database.Location.ConnectionString) { MaxPoolSize = 1 };
        await using (var one = PostgresDialect.Build(settings.ConnectionString, planPerExecution: false))
        {
            Assert.Equal(1, one.HotSize);
        }

        settings = new NpgsqlConnectionStringBuilder(_database.Location.ConnectionString) { Pooling = false };
        await using var unpooled = PostgresDialect.Build(settings.ConnectionString, planPerExecution: false);
        Assert.Equal(0, unpooled.HotSize);
        await using var connection = await unpooled.OpenAsync(default);
        Assert.True(await BackendAsync(connection) > 0);
        Assert.Equal(0, unpooled.HotInUse);
    }
}
