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

    private static DeferredTests Deferred(KnownAnswers known, string sql, bool[] guess, bool ownGuess = false) => new(known, "Patient/p1", sql, [], guess.Length, guess, ownGuess, null);

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
        AssertGuess(known, "Patient/p1", [true, false], own: true);
    }

    [Fact]
    public async Task A_patients_own_answers_confirmed_stay_as_remembered_and_wrong_ones_are_replaced()
    {
        await using var connection = await _source.OpenConnectionAsync();
        var known = new KnownAnswers();
        known.Remember("Patient/p1", [true, false]);
        var remembered = known.Guess("Patient/p1")!.Value.Answers;

        await using (var rows = await DeferredTests.ReadAsync(connection, null, Deferred(known, Tests, remembered, ownGuess: true), Search, [], default))
        {
            Assert.NotNull(rows);
        }

        Assert.Same(remembered, known.Guess("Patient/p1")!.Value.Answers);

        known.Remember("Patient/p1", [false, false]);
        var wrong = known.Guess("Patient/p1")!.Value.Answers;
        Assert.Null(await DeferredTests.ReadAsync(connection, null, Deferred(known, Tests, wrong, ownGuess: true), Search, [], default));
        AssertGuess(known, "Patient/p1", [true, false], own: true);
    }

    [Fact]
    public async Task Tests_sent_along_without_a_guess_report_their_answers_and_value_and_never_refuse_the_rows()
    {
        await using var connection = await _source.OpenConnectionAsync();
        var known = new KnownAnswers();
        (bool[] Answers, long? Value)? told = null;
        var along = new DeferredTests(known, "Patient/p1", "SELECT 1, 0, 42", [], 2, null, false, (answers, value) => told = (answers, value));
        await using (var rows = await DeferredTests.ReadAsync(connection, null, along, Search, [], default))
        {
            Assert.NotNull(rows);
            Assert.True(await rows.Reader.ReadAsync());
            Assert.Equal("row", rows.Reader.GetString(0));
        }

        Assert.Equal([true, false], told!.Value.Answers);
        Assert.Equal(42, told.Value.Value);
        AssertGuess(known, "Patient/p1", [true, false], own: true);

        var none = new DeferredTests(known, "Patient/p2", "SELECT 0, 1, NULL", [], 2, null, false, (answers, value) => told = (answers, value));
        await using (var rows = await DeferredTests.ReadAsync(connection, null, none, Search, [], default))
        {
            Assert.NotNull(rows);
        }

        Assert.Equal([false, true], told.Value.Answers);
        Assert.Null(told.Value.Value);
        Assert.Equal("force_custom_plan", await PostgresSessions.PlanModeAsync(connection));
    }

    [Fact]
    public void A_patient_never_tested_is_guessed_from_the_latest_answers_found_for_anyone()
    {
        var known = new KnownAnswers();
        Assert.Null(known.Guess("Patient/p1"));
        known.Remember("Patient/p1", [true, false]);
        known.Remember("Patient/p2", [false, true]);
        AssertGuess(known, "Patient/p1", [true, false], own: true);
        AssertGuess(known, "Patient/p3", [false, true], own: false);
    }

    private static void AssertGuess(KnownAnswers known, string patientKey, bool[] answers, bool own)
    {
        var guess = known.Guess(patientKey);
        Assert.NotNull(guess);
        Assert.Equal(answers, guess.Value.Answers);
        Assert.Equal(own, guess.Value.Own);
    }

    [Fact]
    public async Task Rows_of_a_wrong_guess_are_not_read_and_the_answers_found_are_remembered()
    {
        await using var connection = await _source.OpenConnectionAsync();
        var known = new KnownAnswers();
        var rows = await DeferredTests.ReadAsync(connection, null, Deferred(known, Tests, [true, true]), Search, [], default);

        Assert.Null(rows);
        AssertGuess(known, "Patient/p1", [true, false], own: true);
        AssertGuess(known, "Patient/another", [true, false], own: false);
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

        AssertGuess(known, "Patient/p1", [true, false], own: true);
        Assert.Equal("auto", await PostgresSessions.PlanModeAsync(connection));
    }
}
