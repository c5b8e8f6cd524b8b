using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;
using Task = System.Threading.Tasks.Task;

namespace Tessera.RecordStore.Access;

/// <summary>
/// Decides every interaction that carries a caller (<see cref="FhirRequest.Principal"/>) before it runs, and
/// records its outcome after. The store applies the decision's <see cref="AccessFilter"/> inside its own
/// queries — reads, searches and their counts, includes, history, compartments, and every interaction an
/// operation runs on the caller's behalf — so that no path goes around it.
/// </summary>
public interface IAccessPolicy
{
    Task<AccessDecision> DecideAsync(AccessRequest request, CancellationToken ct);

    /// <summary>
    /// Records the outcome. For a write, <paramref name="transaction"/> is the write's own transaction, so the
    /// record commits or rolls back with it; for reads and refusals it is null (or the enclosing transaction of a
    /// transaction bundle).
    /// </summary>
    Task RecordAsync(AccessRequest request, AccessDecision decision, AccessOutcome outcome, StoreTransaction? transaction, CancellationToken ct);
}

/// <summary>Kinds of interaction (FHIR R4 RESTful API 3.1.0), as the policy sees them.</summary>
public enum AccessInteraction
{
    Capabilities,
    Read,
    VRead,
    Search,
    History,
    Create,
    Update,
    Patch,
    Delete,
    Operation,
    Batch,
    Transaction,
}

/// <summary>One interaction to decide: who, what, on which resource or patient.</summary>
public sealed record AccessRequest
{
    public required FhirRequest Request { get; init; }

    public required ClaimsPrincipal Principal { get; init; }

    public required AccessInteraction Interaction { get; init; }

    public string? ResourceType { get; init; }

    public string? Id { get; init; }

    /// <summary>The patient of a compartment search (Patient/123/Observation) or of an instance operation on a Patient.</summary>
    public string? CompartmentPatient { get; init; }

    /// <summary>The operation's name without '$', for <see cref="AccessInteraction.Operation"/>.</summary>
    public string? Operation { get; init; }

    /// <summary>For create and update: the patient whose compartment the new version will be in, if any.</summary>
    public string? BodyPatientKey { get; init; }

    public bool IsWrite => Interaction is AccessInteraction.Create or AccessInteraction.Update or AccessInteraction.Patch or AccessInteraction.Delete;
}

/// <summary>
/// A row-level restriction the store adds to its SQL: <see cref="Predicate"/> is a boolean SQL expression over a
/// row alias written <c>{r}</c> with the columns <c>resource_type</c>, <c>id</c>, <c>patient_key</c> and
/// <c>version</c> (of the resource table, the current version; or of the version table, for history and vread; the
/// version is null for a version about to be written). Parameter names must start with "acc_"; they are written "@acc_..." in the SQL.
/// </summary>
public sealed record AccessFilter(string Predicate, IReadOnlyList<(string Name, object? Value)> Parameters)
{
    /// <summary>
    /// The predicate for rows known to be of one resource type, when the policy can simplify it so (the tests of the
    /// row's type decided in advance); it uses the same parameters. Null: <see cref="Predicate"/> serves every type.
    /// </summary>
    public Func<string, string>? ForType { get; init; }

    /// <summary>
    /// The filter for the rows of one patient (those whose patient_key is <see cref="PatientRows.PatientKey"/>), when
    /// the policy can settle in advance what its predicate tests of the patient alone — care relationships, consents,
    /// grants — so that only what it tests of each row is left to the query. Whatever it returns must let through
    /// exactly the rows of that patient that <see cref="Predicate"/> would. Null: the filter is used as it is.
    /// </summary>
    public Func<PatientRows, CancellationToken, Task<AccessFilter>>? ForPatient { get; init; }

    /// <summary>
    /// As <see cref="ForPatient"/>, settled on answers the policy holds as current (kept from earlier, or read now and
    /// kept), never on a guess to be confirmed later: a read of the patient's own Patient row may then skip the filter
    /// altogether when the settled filter has a <see cref="Verdict"/>. Null, or a null answer: the policy keeps no
    /// answers (the read uses the filter as it is).
    /// </summary>
    public Func<PatientRows, CancellationToken, Task<AccessFilter?>>? KeptForPatient { get; init; }

    /// <summary>
    /// Whether the filter lets every row through (true) or none (false), whatever the row; null when it depends on the
    /// row. Set by a policy on a filter it settled for one patient.
    /// </summary>
    public bool? Verdict { get; init; }

    /// <summary>
    /// For a read of one row of the given type (null: any type): the filter split so that the tests which seldom
    /// decide anything stay out of the common statement (see <see cref="FilterAssumption"/>). It must hand out the same
    /// instance for the same type. Null, or a null answer: no split; the read uses <see cref="For"/>.
    /// </summary>
    public Func<string?, FilterAssumption?>? Assuming { get; init; }

    /// <summary>
    /// The predicate over <paramref name="alias"/>, for rows of <paramref name="type"/> when the query fixes it. The
    /// text is written once per predicate and alias and then handed out again: a caller's predicates are the same
    /// string on every request, and a filter's text is a few kilobytes that every read would otherwise copy.
    /// </summary>
    public string For(string alias, string? type = null) =>
        Expand(type is not null && ForType is { } typed ? typed(type) : Predicate, alias);

    /// <summary><see cref="Assuming"/> over <paramref name="alias"/>, written once per split and alias like <see cref="For"/>.</summary>
    public FilterAssumption? AssumedFor(string alias, string? type = null) =>
        Assuming?.Invoke(type) is not { } assumption
            ? null
            : ExpandedAssumptions.GetOrCreateValue(assumption).GetOrAdd(alias, static (a, s) => s with { Predicate = Expand(s.Predicate, a), Guard = Expand(s.Guard, a) }, assumption);

    private static string Expand(string predicate, string alias) =>
        Expanded.GetOrCreateValue(predicate).GetOrAdd(alias, static (a, p) => "(" + p.Replace("{r}", a, StringComparison.Ordinal) + ")", predicate);

    /// <summary>Each predicate's text per alias, kept as long as the predicate is.</summary>
    private static readonly ConditionalWeakTable<string, ConcurrentDictionary<string, string>> Expanded = [];

    private static readonly ConditionalWeakTable<FilterAssumption, ConcurrentDictionary<string, FilterAssumption>> ExpandedAssumptions = [];
}

/// <summary>
/// A filter split for reading one row: <see cref="Predicate"/> decides the row exactly as the whole filter would
/// whenever <see cref="Guard"/> is false for it — the filter with a test that seldom holds (for instance, that a consent
/// rule applies to the caller) assumed false; where the guard holds, the whole filter must judge the row. Unless
/// <see cref="RefusalIsFinal"/>, the predicate also assumes away tests that could only let the row through (a
/// break-glass grant), and a row it refuses must be judged by the whole filter too. Both texts are written over
/// <c>{r}</c> with the filter's parameters. PostgreSQL sets up every sub-query of a statement each time it runs it,
/// those that the row never reaches included, so a read that leaves the seldom-needed ones to a second statement
/// costs it less.
/// </summary>
public sealed record FilterAssumption(string Predicate, string Guard, bool RefusalIsFinal = true);

/// <summary>The policy's answer: refuse, permit everything, permit rows matching a filter, or answer in its place.</summary>
public sealed record AccessDecision
{
    public bool Permitted { get; init; }

    /// <summary>The HTTP status of a refusal: 403, or 401 when the caller is not identified well enough.</summary>
    public int Status { get; init; } = 403;

    public string? Reason { get; init; }

    /// <summary>Rows the caller may see and write; null means all.</summary>
    public AccessFilter? Filter { get; init; }

    /// <summary>A response the policy gives itself (e.g. the audit trail, held outside the resource tables).</summary>
    public Func<CancellationToken, Task<FhirResponse>>? Answer { get; init; }

    /// <summary>Whether to call <see cref="IAccessPolicy.RecordAsync"/> for this interaction.</summary>
    public bool Record { get; init; } = true;

    /// <summary>Anything the policy wants back in <see cref="IAccessPolicy.RecordAsync"/>.</summary>
    public object? State { get; init; }

    public static AccessDecision Deny(string reason, int status = 403) => new() { Permitted = false, Reason = reason, Status = status };

    public static AccessDecision Permit(AccessFilter? filter, object? state = null) => new() { Permitted = true, Filter = filter, State = state };
}

/// <summary>What happened: the response (also for refusals and errors) and the resources it returned.</summary>
public sealed record AccessOutcome(FhirResponse Response)
{
    public int Status => Response.Status;

    public bool Succeeded => Status < 400;
}

/// <summary>Told of every version written, inside the write's transaction (e.g. to keep a part's own index of it).</summary>
public interface IResourceWriteObserver
{
    /// <summary><paramref name="resource"/> is null for a deletion.</summary>
    Task OnWrittenAsync(StoreTransaction transaction, string resourceType, string id, Resource? resource, CancellationToken ct);
}

/// <summary>
/// A value read with a patient's tests (a scalar SQL expression over the same parameters, giving a whole number or
/// null), and what to do with the answers and the value once they are read.
/// </summary>
public sealed record TestValue(string Sql, Action<bool[], long?> Answered);

/// <summary>
/// The rows of one patient that a query is about to filter (a search pinned to that patient), and the query's own
/// connection and transaction, so that what a policy reads of the patient is read where the query runs.
/// </summary>
public sealed class PatientRows
{
    private readonly DbConnection _connection;
    private readonly DbTransaction? _transaction;
    private readonly Func<CancellationToken, Task<DbConnection>>? _planned;
    private readonly bool _speculate;

    /// <param name="planned">
    /// Opens a connection whose statements keep their prepared plans, for the tests when the query runs outside a
    /// transaction on a connection that plans every statement for its values (PostgreSQL's search connections): the
    /// tests' statement would otherwise be planned on every search (about 0.15 ms), though its plan never changes.
    /// </param>
    /// <param name="speculate">
    /// Whether tests whose answers are already known for this patient (or, failing that, for the last patient asked
    /// about) are deferred instead of run: the policy settles its filter on those answers, and the query sends the tests
    /// ahead of itself in the same round trip (<see cref="Deferred"/>), keeping its rows only if the answers still hold.
    /// </param>
    internal PatientRows(DbConnection connection, DbTransaction? transaction, string patientKey, string? resourceType, Func<CancellationToken, Task<DbConnection>>? planned = null, bool speculate = false)
    {
        _connection = connection;
        _transaction = transaction;
        _planned = transaction is null ? planned : null;
        _speculate = speculate;
        PatientKey = patientKey;
        ResourceType = resourceType;
    }

    public string PatientKey { get; }

    /// <summary>Whether the query runs in a write transaction (what it reads may not be committed yet).</summary>
    public bool InTransaction => _transaction is not null;

    /// <summary>The rows' type, when the query fixes it.</summary>
    public string? ResourceType { get; }

    /// <summary>
    /// Evaluates boolean SQL conditions, written over parameters named "@name", in one statement: true or false for
    /// each. Parameters the conditions do not use are not bound (<see cref="Storage.Db.Command"/>). With
    /// <paramref name="value"/>, the statement also reads a value, and its answers and that value are handed to
    /// <see cref="TestValue.Answered"/> once read from the database (when the tests are deferred, as the query reads them).
    /// </summary>
    public async Task<bool[]> TestAsync(IReadOnlyList<string> conditions, IReadOnlyList<(string Name, object? Value)> parameters, CancellationToken ct, TestValue? value = null)
    {
        if (conditions.Count == 0)
        {
            return [];
        }

        var sql = Statement(conditions, value);
        var known = Known.GetValue(conditions, static _ => new KnownAnswers());
        if (_speculate && Deferred is null && known.Guess(PatientKey) is ({ } guess, var ownGuess))
        {
            Deferred = new DeferredTests(known, PatientKey, sql, [.. parameters], conditions.Count, guess, ownGuess, value?.Answered);
            return [.. guess];
        }

        await using var own = _planned is null ? null : await _planned(ct);
        await using var cmd = Storage.Db.Command(own ?? _connection, _transaction, sql, [.. parameters]);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var result = await DeferredTests.ReadAnswersAsync(reader, conditions.Count, value?.Answered, ct);
        known.Remember(PatientKey, result);
        return result;
    }

    /// <summary>
    /// Sends the tests, with <paramref name="value"/>, ahead of the query that follows in the same round trip (on
    /// PostgreSQL), only to learn their answers (<see cref="TestValue.Answered"/>): the query is not filtered on them,
    /// and its rows stand whatever they answer.
    /// </summary>
    public void TestAlongside(IReadOnlyList<string> conditions, IReadOnlyList<(string Name, object? Value)> parameters, TestValue value)
    {
        if (conditions.Count > 0 && Deferred is null && _connection is Npgsql.NpgsqlConnection)
        {
            Deferred = new DeferredTests(Known.GetValue(conditions, static _ => new KnownAnswers()), PatientKey, Statement(conditions, value), [.. parameters], conditions.Count, null, false, value.Answered);
        }
    }

    /// <summary>The statement answering a list of conditions (and a value), written once per list and value.</summary>
    private static string Statement(IReadOnlyList<string> conditions, TestValue? value)
    {
        var tests = Statements.GetValue(conditions, static c => "SELECT " + string.Join(", ", c.Select((condition, i) => $"CASE WHEN {condition} THEN 1 ELSE 0 END AS t{i.ToString(CultureInfo.InvariantCulture)}")));
        return value is null ? tests : Valued.GetValue(conditions, static _ => new ConcurrentDictionary<string, string>(StringComparer.Ordinal)).GetOrAdd(value.Sql, static (v, t) => $"{t}, ({v}) AS v", tests);
    }

    /// <summary>The statements of tests with a value, per list of conditions and value.</summary>
    private static readonly ConditionalWeakTable<IReadOnlyList<string>, ConcurrentDictionary<string, string>> Valued = [];

    /// <summary>The tests a policy asked for and <see cref="TestAsync"/> deferred, to be sent ahead of the query; null when none were.</summary>
    internal DeferredTests? Deferred { get; private set; }

    /// <summary>The answers last found for each list of conditions.</summary>
    private static readonly ConditionalWeakTable<IReadOnlyList<string>, KnownAnswers> Known = [];

    /// <summary>The statement answering a list of conditions, written once per list (a policy passes the same list for every request of a kind).</summary>
    private static readonly ConditionalWeakTable<IReadOnlyList<string>, string> Statements = [];
}
