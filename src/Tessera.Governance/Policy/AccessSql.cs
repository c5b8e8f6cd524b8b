using System.Globalization;
using Tessera.RecordStore;
using Tessera.RecordStore.Access;

namespace Tessera.Governance.Policy;

/// <summary>
/// Builds the row filter the store applies inside its queries. Each piece is a SQL condition over a row
/// <c>{r}</c> (resource_type, id, patient_key) against the governance index and the store's own index tables,
/// written once here for both databases. Built for rows of one known type (<paramref name="knownType"/>), the pieces
/// that test the row's type are decided here instead of in SQL: PostgreSQL plans a search for its values on every
/// execution, and estimating the compartment-type list alone cost it over a millisecond per governed search.
/// </summary>
internal sealed class AccessSql(string? knownType = null)
{
    /// <summary>The one parameter whose value changes from request to request: the time grants and consents are compared with.</summary>
    public const string NowParameter = "acc_now";

    private readonly List<(string Name, object? Value)> _parameters = [];

    /// <summary>Types outside the Patient compartment (directory and definitional resources) hold no personal record.</summary>
    private static readonly string CompartmentTypes = string.Join(", ", FhirStore.PatientCompartmentTypes.Select(t => $"'{t}'"));

    public const string CareBases = "'registered', 'encounter', 'episode', 'referral', 'care-team', 'break-glass'";

    /// <summary>
    /// A parameter holding <paramref name="value"/>: one per distinct value, so that a value the predicate tests in
    /// several places (the caller's organisation, say) is bound once. The names follow the order of first use, which
    /// is the same for every form of a caller's predicate.
    /// </summary>
    public string P(object? value)
    {
        var existing = _parameters.FindIndex(p => Equals(p.Value, value));
        if (existing >= 0)
        {
            return "@" + _parameters[existing].Name;
        }

        var name = "acc_" + _parameters.Count.ToString(CultureInfo.InvariantCulture);
        _parameters.Add((name, value));
        return "@" + name;
    }

    public string List(IEnumerable<string> values) => string.Join(", ", values.Select(v => P(v)));

    /// <summary>The parameter holding the patient key of a filter settled for one patient's rows (<see cref="TimedFilter"/>).</summary>
    public const string PatientParameter = "acc_pk";

    private readonly List<PatientTest> _tests = [];

    /// <summary>
    /// A test of the row's patient alone (<paramref name="has"/>, a condition on a patient key), written into the
    /// predicate as a placeholder (see <see cref="PredicateForm"/>). A <paramref name="gate"/> is a test the predicate
    /// needs only when the filter is settled for one patient: it stands for true otherwise. A gate must only ever be
    /// written as <c>gate AND x</c>, where <c>x</c> cannot hold for a row whose patient fails the gate: the predicate
    /// with the gate false then judges such a row as the whole predicate does (see <see cref="PredicateForm.Assumption"/>).
    /// A <paramref name="grant"/> is a test that can only let rows through: the predicate never negates it, so with the
    /// grant false it lets through fewer rows, never others.
    /// </summary>
    private string Test(Func<string, string> has, bool gate = false, bool grant = false)
    {
        _tests.Add(new PatientTest(has("{r}.patient_key"), has("@" + PatientParameter), gate, grant));
        return PredicateForm.Placeholder(_tests.Count - 1);
    }

    /// <summary><paramref name="predicate"/> with the tests of the patient it was built with.</summary>
    public PredicateForm Form(string predicate) => new(predicate, [.. _tests]);

    /// <summary>
    /// The filter over <paramref name="predicate"/>, to be bound to a time per request (see <see cref="TimedFilter.At"/>);
    /// <paramref name="ofType"/> gives the same predicate built for rows of one type (with the same parameters).
    /// </summary>
    public TimedFilter Build(string predicate, Func<string, PredicateForm>? ofType = null)
    {
        var form = Form(predicate);
        return new(form, [.. _parameters], form.Uses(Now), ofType);
    }

    public static string Now => "@" + NowParameter;

    private const string Never = SqlLogic.False;
    private const string Always = SqlLogic.True;

    /// <summary>A row that holds no personal record: no patient and not a compartment type.</summary>
    public string NonPersonal => knownType is null
        ? $"({{r}}.patient_key IS NULL AND {{r}}.resource_type NOT IN ({CompartmentTypes}))"
        : FhirStore.PatientCompartmentTypes.Contains(knownType) ? Never : "{r}.patient_key IS NULL";

    /// <summary>
    /// Ends a correlated EXISTS so that it stays an index probe per row: without it PostgreSQL may turn the EXISTS
    /// into a hash of every row the subquery could match (every patient of a practice) built for each statement.
    /// </summary>
    public const string Probe = "LIMIT 1 OFFSET 0";

    /// <summary>
    /// A condition on a patient key (a column) that it has a current relationship of the given bases to one of the
    /// parties: an index probe per row, not the set of every patient the parties relate to (a practice holds thousands).
    /// </summary>
    public Func<string, string> Related(IEnumerable<string> parties, string bases)
    {
        var list = List(parties);
        var now = Now;
        return key => $"EXISTS (SELECT 1 FROM gov_relationship g WHERE g.patient_key = {key} AND g.party IN ({list}) AND g.basis IN ({bases}) AND (g.expires IS NULL OR g.expires > {now}) {Probe})";
    }

    /// <summary>A condition on a patient key that it is <paramref name="patient"/>.</summary>
    public Func<string, string> Is(string patient)
    {
        var p = P(patient);
        return key => $"{key} = {p}";
    }

    /// <summary>
    /// The row's own patient meets <paramref name="has"/>, for conditions on relationships and consent rules: those of
    /// the other records of the same person are copied to it (see <see cref="Relationships.RelationshipIndex"/>).
    /// </summary>
    public string OfRow(Func<string, string> has) => Test(has);

    /// <summary>
    /// As <see cref="OfRow"/>, for a test that only ever grants access (a break-glass): the caller must write it where
    /// no NOT applies to it.
    /// </summary>
    public string GrantOfRow(Func<string, string> has) => Test(has, grant: true);

    /// <summary>The row's patient, or another record of the same person (master patient links), meets <paramref name="has"/>.</summary>
    public string OfPerson(Func<string, string> has) => Test(key =>
        $"({has(key)} OR EXISTS (SELECT 1 FROM gov_person_link l1 JOIN gov_person_link l2 ON l2.person_key = l1.person_key WHERE l1.patient_key = {key} AND {has("l2.patient_key")} {Probe}))");

    /// <summary>
    /// A consent rule of the row's person (its own, or copied from another of the person's records) hides it from this caller: an opt-out, a deny for the caller's organisation,
    /// or a restricted security label on the row — unless the caller's organisation recorded the row (meta.source).
    /// Settled for one patient, the test starts from whether the patient has any rule that applies to the caller.
    /// </summary>
    public string DeniedByConsent(string? org)
    {
        var orgMatch = org is null ? "c.org IS NULL" : $"(c.org IS NULL OR c.org = {P(org)})";
        var applies = $"{orgMatch} AND (c.expires IS NULL OR c.expires > {Now})";
        var any = Test(key => $"EXISTS (SELECT 1 FROM gov_consent_rule c WHERE c.patient_key = {key} AND {applies} {Probe})", gate: true);
        var denied = $"({any} AND EXISTS (SELECT 1 FROM gov_consent_rule c WHERE c.patient_key = {{r}}.patient_key AND {applies} AND (c.label IS NULL OR {Labelled("c.label")}) {Probe}))";
        return org is null ? denied : $"({denied} AND NOT {RecordedBy(org)})";
    }

    /// <summary>
    /// The row's version, or a later version of the resource, carries the security label <paramref name="label"/>:
    /// a label hides the version that carries it and the versions before it (labels are often added once a record is
    /// recognised as sensitive, and the earlier versions hold the same information), while dropping it later does not
    /// reveal the versions that carried it. The current labels (the search index) cover every version; the labels of
    /// older versions are in gov_version_label. A row without a version (a write checked before it is stored) is judged
    /// by the current labels only.
    /// </summary>
    private static string Labelled(string label) =>
        $"(EXISTS (SELECT 1 FROM idx_token s WHERE s.resource_type = {{r}}.resource_type AND s.id = {{r}}.id AND s.param = '_security' AND s.code = {label} {Probe})"
        + $" OR EXISTS (SELECT 1 FROM gov_version_label vl WHERE vl.resource_type = {{r}}.resource_type AND vl.id = {{r}}.id AND vl.label = {label} AND vl.version >= {{r}}.version {Probe}))";

    /// <summary>
    /// The recording organisation of a row is its meta.source: "Organization/id", optionally followed by "#..." or
    /// "/...". Compared by prefix with substr, not LIKE: the row's few _source values are found by its key anyway, a
    /// LIKE pattern cost PostgreSQL about 0.3 ms to estimate on every search it planned, and it would have taken an
    /// "_" in an id for a wildcard (and SQLite's LIKE ignores case).
    /// </summary>
    public string RecordedBy(string org) =>
        $"EXISTS (SELECT 1 FROM idx_uri u WHERE u.resource_type = {{r}}.resource_type AND u.id = {{r}}.id AND u.param = '_source' AND (u.value = {P(org)} OR substr(u.value, 1, {P(org.Length + 1)}) IN ({P(org + "#")}, {P(org + "/")})) {Probe})";

    /// <summary>Laboratory results: Specimens, and Observations and DiagnosticReports in the laboratory category.</summary>
    public string LabResult
    {
        get
        {
            var category = $"EXISTS (SELECT 1 FROM idx_token t WHERE t.resource_type = {{r}}.resource_type AND t.id = {{r}}.id AND t.param = 'category' AND t.code IN ('laboratory', 'LAB') {Probe})";
            return knownType switch
            {
                null => $"({{r}}.resource_type = 'Specimen' OR ({{r}}.resource_type IN ('Observation', 'DiagnosticReport') AND {category}))",
                "Specimen" => Always,
                "Observation" or "DiagnosticReport" => category,
                _ => Never,
            };
        }
    }

    public string Types(IReadOnlyCollection<string> types) => knownType is null
        ? $"{{r}}.resource_type IN ({string.Join(", ", types.Select(t => $"'{t}'"))})"
        : types.Contains(knownType) ? Always : Never;
}

/// <summary>A test of a row's patient alone: written over the row's patient key, and over the patient key parameter.</summary>
internal sealed record PatientTest(string OnRow, string OnKey, bool Gate, bool Grant = false);

/// <summary>
/// A row predicate as built: its text, in which every test of the row's patient alone (<see cref="PatientTest"/>) is
/// a placeholder, and those tests. <see cref="Full"/> judges any row; <see cref="Settled"/> judges the rows of one
/// patient once the tests have been answered for that patient: each placeholder becomes true or false, and what a
/// constant decides is folded out of the text (<see cref="SqlLogic"/>) before PostgreSQL parses and plans the rest
/// (the planning of each sub-query costs about 50 µs on every search).
/// </summary>
internal sealed record PredicateForm(string Template, IReadOnlyList<PatientTest> Tests)
{
    private const string True = SqlLogic.True;
    private const string False = SqlLogic.False;

    /// <summary>The settled predicates, one per set of answers, each written once.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _settled = new(StringComparer.Ordinal);

    public static string Placeholder(int index) => "{test:" + index.ToString(CultureInfo.InvariantCulture) + "}";

    /// <summary>The tests over the patient key parameter, in order: one list per form, so the statement that answers them is written once.</summary>
    public IReadOnlyList<string> OnKeys { get; } = [.. Tests.Select(t => t.OnKey)];

    public string Full { get; } = SqlLogic.Simplify(Resolve(Template, Tests.Count, i => Tests[i].Gate ? True : Tests[i].OnRow));

    /// <summary>
    /// For reading one row: the predicate with its gates false (no consent rule applies to the caller) and its grants
    /// false (no break-glass), and as guard the gates over the row, any of which holding sends the read to
    /// <see cref="Full"/>; with grants assumed away, so does a refusal. Null when the predicate has neither. For a GP's
    /// read of a registered patient without consent rules, this leaves the consent rule's label, earlier label and
    /// recording organisation sub-queries and the break-glass probe out of the statement, which PostgreSQL would set up
    /// on every read without running them.
    /// </summary>
    public FilterAssumption? Assumption { get; } = Tests.Any(t => t.Gate || t.Grant)
        ? new FilterAssumption(
            SqlLogic.Simplify(Resolve(Template, Tests.Count, i => Tests[i].Gate || Tests[i].Grant ? False : Tests[i].OnRow)),
            Tests.Any(t => t.Gate) ? string.Join(" OR ", Tests.Where(t => t.Gate).Select(t => t.OnRow)) : False,
            RefusalIsFinal: !Tests.Any(t => t.Grant))
        : null;

    /// <summary>
    /// The list of tests as an identity: forms whose tests are the same text (a caller's forms for different types)
    /// share it, so that answers found for one serve the others (<see cref="PatientAnswers"/>).
    /// </summary>
    public object TestsId { get; } = TestLists.GetOrAdd(string.Join('\n', Tests.Select(t => t.OnKey)), static _ => new object());

    /// <summary>One identity per distinct list of tests (written with parameter names, not values: a handful per region).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, object> TestLists = new(StringComparer.Ordinal);

    public bool Uses(string text) => Template.Contains(text, StringComparison.Ordinal) || Tests.Any(t => t.OnRow.Contains(text, StringComparison.Ordinal) || t.OnKey.Contains(text, StringComparison.Ordinal));

    /// <summary>The predicate for the rows of a patient of whom the tests answered <paramref name="answers"/>.</summary>
    public string Settled(bool[] answers) =>
        _settled.GetOrAdd(string.Concat(answers.Select(a => a ? '1' : '0')), _ => SqlLogic.Simplify(Resolve(Template, Tests.Count, i => answers[i] ? True : False)));

    private static string Resolve(string template, int count, Func<int, string> test)
    {
        var text = template;
        for (var i = 0; i < count; i++)
        {
            text = text.Replace(Placeholder(i), test(i), StringComparison.Ordinal);
        }

        return text;
    }
}

/// <summary>
/// A caller's row filter, worked out once: its predicate and parameters are fixed, and only the time that grants and
/// consents are compared with (<see cref="AccessSql.Now"/>, when the predicate uses it) is bound per request. Its
/// predicates for rows of one type are worked out when first asked for, and kept.
/// </summary>
internal sealed record TimedFilter(PredicateForm Form, IReadOnlyList<(string Name, object? Value)> Fixed, bool Timed, Func<string, PredicateForm>? OfType)
{
    /// <summary>Where the answers of the filter's tests of a patient are kept between searches (null: they are not).</summary>
    public PatientAnswers? Answers { get; init; }

    /// <summary>The typed forms, each built on first use and kept: one delegate for every request of the caller.</summary>
    private readonly Func<string, PredicateForm>? _forType = OfType is null ? null : Memoised(OfType);

    /// <summary>The filter for a request at <paramref name="now"/> (milliseconds since the epoch).</summary>
    public AccessFilter At(long now)
    {
        IReadOnlyList<(string Name, object? Value)> parameters = Timed ? [.. Fixed, (AccessSql.NowParameter, now)] : Fixed;
        var forType = _forType;
        return new(Form.Full, parameters)
        {
            ForType = forType is null ? null : type => forType(type).Full,
            Assuming = type => (type is not null && forType is not null ? forType(type) : Form).Assumption,
            ForPatient = (rows, ct) => SettleAsync(rows, parameters, now, ct),
            KeptForPatient = Answers is null ? null : (rows, ct) => KeptForReadAsync(rows, parameters, now, ct),
        };
    }

    /// <summary>
    /// The filter for the rows of one patient: the tests of the patient answered in one statement, and the predicate
    /// with their answers in their places (same parameters).
    /// </summary>
    private async Task<AccessFilter> SettleAsync(PatientRows rows, IReadOnlyList<(string Name, object? Value)> parameters, long now, CancellationToken ct)
    {
        var form = FormFor(rows.ResourceType);
        if (form.Tests.Count == 0)
        {
            return new AccessFilter(form.Full, parameters);
        }

        if (Answers is { Usable: true } kept && !rows.InTransaction)
        {
            return await KeptAsync(kept, form, rows, parameters, now, forRead: false, ct) ?? throw new InvalidOperationException("A search's tests are run or deferred, never only sent along.");
        }

        var answers = await rows.TestAsync(form.OnKeys, [.. parameters, (AccessSql.PatientParameter, rows.PatientKey)], ct);
        return new AccessFilter(form.Settled(answers), parameters);
    }

    private PredicateForm FormFor(string? type) => type is not null && _forType is { } forType ? forType(type) : Form;

    /// <summary>
    /// For a read of one patient's row: the filter settled on the answers kept for the patient, when they are (with its
    /// <see cref="AccessFilter.Verdict"/> when it decides every row outright). Otherwise null, and the tests go ahead of
    /// the read (<see cref="PatientRows.TestAlongside"/>), whose answers are kept as they arrive; the read then asks again.
    /// </summary>
    private Task<AccessFilter?> KeptForReadAsync(PatientRows rows, IReadOnlyList<(string Name, object? Value)> parameters, long now, CancellationToken ct) =>
        Answers is { Usable: true } kept && !rows.InTransaction ? KeptAsync(kept, FormFor(rows.ResourceType), rows, parameters, now, forRead: true, ct) : Task.FromResult<AccessFilter?>(null);

    /// <summary>
    /// The filter for the rows of one patient settled on answers kept from an earlier request of this caller, while
    /// nothing of the patient's has changed and nothing has expired (see <see cref="PatientAnswers"/>). Otherwise the
    /// tests are run, or sent with the query, together with until when their answers hold, and their answers are kept
    /// as the database gives them: a search is settled as without kept answers (possibly on a guess that the query
    /// confirms), and a read (<paramref name="forRead"/>) is not settled at all (null).
    /// </summary>
    private async Task<AccessFilter?> KeptAsync(PatientAnswers kept, PredicateForm form, PatientRows rows, IReadOnlyList<(string Name, object? Value)> parameters, long now, bool forRead, CancellationToken ct)
    {
        if (form.Tests.Count == 0)
        {
            return Settled(form.Full, parameters);
        }

        var patient = rows.PatientKey;
        if (kept.TryGet(this, form.TestsId, patient, now, out var answers))
        {
            return Settled(form.Settled(answers), parameters);
        }

        var stamp = kept.Changes.Take(patient);
        var value = new TestValue(PatientAnswers.Horizon, (found, until) => kept.Remember(this, form.TestsId, patient, found, stamp, until ?? long.MaxValue));
        IReadOnlyList<(string Name, object? Value)> bound = Timed
            ? [.. parameters, (AccessSql.PatientParameter, patient)]
            : [.. parameters, (AccessSql.NowParameter, now), (AccessSql.PatientParameter, patient)];
        if (forRead)
        {
            rows.TestAlongside(form.OnKeys, bound, value);
            return null;
        }

        // Possibly a guess, which the search confirms: no verdict is drawn from it.
        return new AccessFilter(form.Settled(await rows.TestAsync(form.OnKeys, bound, ct, value)), parameters);
    }

    private static AccessFilter Settled(string predicate, IReadOnlyList<(string Name, object? Value)> parameters) =>
        new(predicate, parameters) { Verdict = predicate == SqlLogic.True ? true : predicate == SqlLogic.False ? false : null };

    private static Func<string, PredicateForm> Memoised(Func<string, PredicateForm> build)
    {
        var typed = new System.Collections.Concurrent.ConcurrentDictionary<string, PredicateForm>(StringComparer.Ordinal);
        return type => typed.GetOrAdd(type, build);
    }
}
