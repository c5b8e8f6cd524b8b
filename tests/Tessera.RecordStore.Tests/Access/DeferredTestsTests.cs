using Npgsql;
using Tessera.RecordStore.Access;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Access;

/// <summary>
/// On PostgreSQL a pinned search's patient tests go ahead of it in one batch that lets them keep their prepared plan
/// (SET plan_cache_mode ... RESET) on a session that plans every statement for its values. Whatever happens in the
/// batch — the tests or the search failing, inside a transaction or not — the session must keep its own setting, or
/// every later search on that pooled connection would run on a generic plan.
/// </summary>
public sealed class DeferredTestsTests : IAsyncLifetime
{
    private const string Tests = "SELECT 1, 0";
    private const string Search = "SELECT 'row'";
    private const string Failing = "SELECT 1 / (0 * length(version()))";

    private TestDatabase _database = null!;
    private NpgsqlDataSource _source = null!;

    public async Task InitializeAsync()
    {
        _database = await TestDatabase.CreateAsync("postgres");
        var builder = new NpgsqlConnectionStringBuilder(_database.Location.ConnectionString) { Options = "-c plan_cache_mode=force_custom_plan" };
        _source = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    public async Task DisposeAsync()
    {
        await _source.DisposeAsync();
        await _database.DisposeAsync();
    }

    private static DeferredTests Deferred(KnownAnswers known, string sql, bool[] guess) => new(known, "Patient/p1", sql, [], guess);

    [Fact]
    public async Task Rows_are_read_when_the_tests_answer_as_guessed_and_the_session_keeps_its_setting()
    {
        await using var connection = await _source.OpenConnectionAsync();
        var known = new KnownAnswers();
        await using (var rows = await DeferredTests.ReadAsync(connection, null, Deferred(known, Tests, [true, false]), Search, [], default))
        {
            Assert.NotNull(rows);
            Assert.True(await rows.Reader.ReadAsync());
            Assert.Equal("row", rows.Reader.GetString(0));
        }

        Assert.Equal("force_custom_plan", await PostgresSessions.PlanModeAsync(connection));
        Assert.Equal([true, false], known.Guess("Patient/p1"));
    }

    [Fact]
    public async Task Rows_of_a_wrong_guess_are_not_read_and_the_answers_found_are_remembered()
    {
        await using var connection = await _source.OpenConnectionAsync();
        var known = new KnownAnswers();
        var rows = await DeferredTests.ReadAsync(connection, null, Deferred(known, Tests, [true, true]), Search, [], default);

        Assert.Null(rows);
        Assert.Equal([true, false], known.Guess("Patient/p1"));
        Assert.Equal([true, false], known.Guess("Patient/another"));
        Assert.Equal("force_custom_plan", await PostgresSessions.PlanModeAsync(connection));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task A_failure_in_the_batch_leaves_the_session_planning_every_statement(bool testsFail, bool inTransaction)
    {
        await using var connection = await _source.OpenConnectionAsync();
        await using (var transaction = inTransaction ? await connection.BeginTransactionAsync() : null)
        {
            var deferred = Deferred(new KnownAnswers(), testsFail ? Failing : Tests, [true, false]);
            await Assert.ThrowsAsync<PostgresException>(async () =>
            {
                await using var rows = await DeferredTests.ReadAsync(connection, transaction, deferred, testsFail ? Search : Failing, [], default);
                Assert.NotNull(rows);
                while (await rows.Reader.ReadAsync())
                {
                }
            });

            if (transaction is not null)
            {
                await transaction.RollbackAsync();
            }
        }

        Assert.Equal("force_custom_plan", await PostgresSessions.PlanModeAsync(connection));
    }

    [Fact]
    public async Task Inside_a_committed_transaction_the_session_keeps_its_setting()
    {
        await using var connection = await _source.OpenConnectionAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using (var rows = await DeferredTests.ReadAsync(connection, transaction, Deferred(new KnownAnswers(), Tests, [true, false]), Search, [], default))
            {
                Assert.NotNull(rows);
            }

            Assert.Equal("force_custom_plan", await PostgresSessions.PlanModeAsync(connection));
            await transaction.CommitAsync();
        }

        Assert.Equal("force_custom_plan", await PostgresSessions.PlanModeAsync(connection));
    }

    [Theory]
    [InlineData(new[] { true, false }, true)]
    [InlineData(new[] { true, true }, false)]
    public async Task On_a_session_that_keeps_its_plans_the_tests_go_ahead_as_they_are(bool[] guess, bool rowsRead)
    {
        await using var keeping = NpgsqlDataSource.Create(_database.Location.ConnectionString);
        await using var connection = await keeping.OpenConnectionAsync();
        Assert.False(DeferredTests.PlansEachExecution(connection));
        var known = new KnownAnswers();
        await using (var rows = await DeferredTests.ReadAsync(connection, null, Deferred(known, Tests, guess), Search, [], default))
        {
            Assert.Equal(rowsRead, rows is not null);
            if (rows is not null)
            {
                Assert.True(await rows.Reader.ReadAsync());
                Assert.Equal("row", rows.Reader.GetString(0));
            }
        }

        Assert.Equal([true, false], known.Guess("Patient/p1"));
        Assert.Equal("auto", await PostgresSessions.PlanModeAsync(connection));
    }
}
