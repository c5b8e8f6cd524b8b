using Npgsql;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Storage;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Machinery;

/// <summary>
/// On PostgreSQL a search runs on a session that plans each statement for its values, unless one plan of it is right
/// for every value (a search whose rows its patient alone chooses): that one runs where a generic plan may be kept.
/// </summary>
public sealed class SearchConnectionsTests : IAsyncLifetime
{
    private TestDatabase _database = null!;

    public async Task InitializeAsync() => _database = await TestDatabase.CreateAsync("postgres");

    public async Task DisposeAsync() => await _database.DisposeAsync();

    [Fact]
    public async Task Searches_are_planned_for_their_values_unless_their_plans_are_alike()
    {
        await using var dialect = new PostgresDialect(_database.Location.ConnectionString);
        await using (var search = await dialect.OpenForSearchAsync(default))
        {
            Assert.Equal("force_custom_plan", await PostgresSessions.PlanModeAsync(search));
            Assert.True(DeferredTests.PlansEachExecution((NpgsqlConnection)search));
        }

        await using (var search = await dialect.OpenForSearchAsync(plansAlike: false, default))
        {
            Assert.Equal("force_custom_plan", await PostgresSessions.PlanModeAsync(search));
        }

        // A pinned search's patient tests go ahead of it as they are: no SET and RESET around them.
        await using (var alike = await dialect.OpenForSearchAsync(plansAlike: true, default))
        {
            Assert.Equal("auto", await PostgresSessions.PlanModeAsync(alike));
            Assert.False(DeferredTests.PlansEachExecution((NpgsqlConnection)alike));
        }
    }

    [Fact]
    public async Task A_setting_in_the_connection_string_wins()
    {
        var connectionString = new NpgsqlConnectionStringBuilder(_database.Location.ConnectionString) { Options = "-c plan_cache_mode=force_generic_plan" }.ConnectionString;
        await using var dialect = new PostgresDialect(connectionString);
        await using var search = await dialect.OpenForSearchAsync(default);
        Assert.Equal("force_generic_plan", await PostgresSessions.PlanModeAsync(search));
    }
}
