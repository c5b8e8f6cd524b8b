using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using Npgsql;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Access;

/// <summary>
/// The answers last found to one list of tests, per patient (up to a bound, then forgotten together) and the latest
/// of all: a caller's searches mostly return to the same people, and most people's answers are alike.
/// </summary>
internal sealed class KnownAnswers
{
    private const int MaxPatients = 10_000;
    private readonly ConcurrentDictionary<string, bool[]> _byPatient = new(StringComparer.Ordinal);
    private volatile bool[]? _latest;
    private long _added;

    /// <summary>The answers last found for the patient (<c>Own</c>), or failing that the latest found for anyone.</summary>
    public (bool[] Answers, bool Own)? Guess(string patientKey) =>
        _byPatient.TryGetValue(patientKey, out var answers) ? (answers, true) : _latest is { } latest ? (latest, false) : null;

    public void Remember(string patientKey, bool[] answers)
    {
        // Counted as they are added (replacements too): ConcurrentDictionary.Count takes every one of its locks.
        if (Interlocked.Increment(ref _added) > MaxPatients)
        {
            _byPatient.Clear();
            Interlocked.Exchange(ref _added, 0);
        }

        _byPatient[patientKey] = answers;
        _latest = answers;
    }
}

/// <summary>
/// Tests of a patient that a policy's filter was settled on without running them (<see cref="PatientRows.TestAsync"/>
/// guessed their answers): the query runs them ahead of itself, in the same round trip, and its rows count only if
/// the answers are the guessed ones (<see cref="ReadAsync"/>); otherwise it is run again, settled on the answers found.
/// </summary>
/// <remarks>
/// Without a guess the tests only travel with the query to be answered (<see cref="PatientRows.TestAlongside"/>): the
/// rows stand whatever they answer. <paramref name="answered"/> is told the answers (and the value read with them) either way.
/// </remarks>
internal sealed class DeferredTests(KnownAnswers known, string patientKey, string sql, (string Name, object? Value)[] parameters, int count, bool[]? guess, bool ownGuess, Action<bool[], long?>? answered)
{
    private const string KeepPlans = "SET plan_cache_mode = auto";
    private const string PlanAsBefore = "RESET plan_cache_mode";

    public string Sql => sql;

    public (string Name, object? Value)[] Parameters => parameters;

    /// <summary>
    /// Reads the tests' answers, the first result of <paramref name="reader"/>, and moves to the next result: true when
    /// they are the answers guessed, so the rows that follow were filtered rightly.
    /// </summary>
    private async Task<bool> ConfirmAsync(DbDataReader reader, CancellationToken ct, bool moveOn)
    {
        var answers = await ReadAnswersAsync(reader, count, answered, ct);
        var confirmed = guess is null || answers.AsSpan().SequenceEqual(guess);
        if (!confirmed || !ownGuess)
        {
            // The patient's own answers, confirmed, are left as they are: remembering them again would take the
            // dictionary's lock on every search for nothing.
            known.Remember(patientKey, answers);
        }

        return confirmed && (!moveOn || await reader.NextResultAsync(ct));
    }

    /// <summary>
    /// The answers of the tests' row, and, to <paramref name="answered"/> when given, the answers and the value in the
    /// column after them.
    /// </summary>
    internal static async Task<bool[]> ReadAnswersAsync(DbDataReader reader, int count, Action<bool[], long?>? answered, CancellationToken ct)
    {
        var result = new bool[count];
        if (!await reader.ReadAsync(ct))
        {
            return result;
        }

        for (var i = 0; i < result.Length; i++)
        {
            result[i] = reader.GetInt64(i) != 0;
        }

        answered?.Invoke(result, await reader.IsDBNullAsync(count, ct) ? null : Convert.ToInt64(reader.GetValue(count), CultureInfo.InvariantCulture));
        return result;
    }

    /// <summary>
    /// Runs <paramref name="sql"/>, with <paramref name="tests"/> (when given) ahead of it in the same round trip on
    /// PostgreSQL: the reader of its rows, or null when the tests' answers were not the guessed ones (the rows were
    /// filtered on a wrong guess and are not read).
    /// </summary>
    public static async Task<QueryRows?> ReadAsync(DbConnection connection, DbTransaction? transaction, DeferredTests? tests, string sql, (string Name, object? Value)[] parameters, CancellationToken ct)
    {
        if (tests is not null && connection is not NpgsqlConnection)
        {
            // Without batches the tests go first on their own.
            await using (var first = Db.Command(connection, transaction, tests.Sql, tests.Parameters))
            await using (var answers = await first.ExecuteReaderAsync(ct))
            {
                if (!await tests.ConfirmAsync(answers, ct, moveOn: false))
                {
                    return null;
                }
            }

            tests = null;
        }

        if (tests is null)
        {
            var cmd = Db.Command(connection, transaction, sql, parameters);
            return new QueryRows(cmd, await cmd.ExecuteReaderAsync(ct));
        }

        // A search's own session plans every statement for its values; the tests keep their prepared plan, which
        // serves every patient (planned afresh they cost more than the search). RESET returns the session to its
        // own setting. The four statements are one implicit transaction (no error barriers: a Sync and a
        // transaction each cost PostgreSQL more than the tests do): if one fails, the whole is rolled back, SET
        // included, and the session keeps its own setting all the same.
        // A session that keeps plans already (a search whose rows its patient alone chooses, or a transaction's) needs
        // neither.
        var npgsql = (NpgsqlConnection)connection;
        var batch = PlansEachExecution(npgsql)
            ? Db.Batch(npgsql, transaction, (KeepPlans, []), (tests.Sql, tests.Parameters), (PlanAsBefore, []), (sql, parameters))
            : Db.Batch(npgsql, transaction, (tests.Sql, tests.Parameters), (sql, parameters));
        DbDataReader? reader = null;
        QueryRows? rows = null;
        try
        {
            reader = await batch.ExecuteReaderAsync(ct);
            if (await tests.ConfirmAsync(reader, ct, moveOn: true))
            {
                rows = new QueryRows(batch, reader);
            }
        }
        finally
        {
            // A wrong guess, or an error in any of the statements (it surfaces as the reader moves on): the
            // connection is freed for what the caller does next, a rerun or the transaction's rollback.
            if (rows is null)
            {
                if (reader is not null)
                {
                    await reader.DisposeAsync();
                }

                await batch.DisposeAsync();
            }
        }

        return rows;
    }

    private static readonly ConcurrentDictionary<string, bool> PlanModes = new(StringComparer.Ordinal);

    /// <summary>Whether the connection's session plans every statement for its values (its options force custom plans).</summary>
    internal static bool PlansEachExecution(NpgsqlConnection connection) =>
        PlanModes.GetOrAdd(connection.ConnectionString, static text =>
            new NpgsqlConnectionStringBuilder(text).Options?.Replace(" ", string.Empty, StringComparison.Ordinal).Contains(PostgresDialect.PlanPerExecutionSetting, StringComparison.OrdinalIgnoreCase) == true);
}

/// <summary>The rows of a query and what to dispose of with them.</summary>
internal sealed class QueryRows(IAsyncDisposable owner, DbDataReader reader) : IAsyncDisposable
{
    public DbDataReader Reader => reader;

    public async ValueTask DisposeAsync()
    {
        await reader.DisposeAsync();
        await owner.DisposeAsync();
    }
}
