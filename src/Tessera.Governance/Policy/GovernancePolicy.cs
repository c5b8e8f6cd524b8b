using System.Collections.Concurrent;
using System.Security.Claims;
using System.Text;
using Tessera.Governance.Audit;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Machinery;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Governance.Policy;

/// <summary>
/// Who may see what (docs/governance.md): practitioners through a care relationship or break-glass, within the
/// person's consent and their role's categories; citizens their own record; carers the record of a person who
/// allowed it; the IG lead the audit and consents; system clients what their scopes name. Every decision is audited.
/// </summary>
internal sealed class GovernancePolicy(AuditTrail audit, AuditQuery auditQuery, PatientAnswers? answers = null) : IAccessPolicy
{
    /// <summary>Types the information governance lead reads besides directory resources.</summary>
    private static readonly string[] IgLeadTypes = ["Patient", "Consent", "Communication", "Provenance"];

    /// <summary>Claims that make a caller (those <see cref="Caller.From"/> reads).</summary>
    private static readonly HashSet<string> CallerClaims =
        ["tessera_role", "sub", ClaimTypes.NameIdentifier, "client_id", "fhirUser", "tessera_org", "tessera_practitioner_role", "patient", "scope"];

    /// <summary>How many callers' filters are kept (a region's signed-in users); beyond it the cache starts again.</summary>
    private const int MaxCallers = 10_000;

    private readonly ConcurrentDictionary<string, CallerView> _callers = new(StringComparer.Ordinal);

    /// <summary>A caller as their claims describe them and the rows they may see, at any time (see <see cref="TimedFilter.At"/>).</summary>
    private sealed record CallerView(Caller? Caller, TimedFilter? Filter);

    public Task<AccessDecision> DecideAsync(AccessRequest request, CancellationToken ct) => Task.FromResult(Decide(request));

    /// <summary>
    /// The caller and their row filter, worked out once per set of claims: both follow from the token alone (the
    /// relationships, consents and grants the filter tests are read by the database on every query), so they cannot go stale.
    /// </summary>
    private CallerView View(ClaimsPrincipal principal)
    {
        // The web host hands every request of one token the same principal (see FhirAuthentication): its view is then
        // found without reading the claims again.
        if (_byPrincipal.TryGetValue(principal, out var known))
        {
            return known;
        }

        var found = ViewOfClaims(principal);
        _byPrincipal.AddOrUpdate(principal, found);
        return found;
    }

    /// <summary>Views by principal object, for as long as the principal lives (a token's, while it is remembered).</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<ClaimsPrincipal, CallerView> _byPrincipal = [];

    private CallerView ViewOfClaims(ClaimsPrincipal principal)
    {
        var key = new StringBuilder();
        foreach (var claim in principal.Claims)
        {
            if (CallerClaims.Contains(claim.Type))
            {
                key.Append(claim.Type).Append('\u001f').Append(claim.Value).Append('\u001e');
            }
        }

        var text = key.ToString();
        if (_callers.TryGetValue(text, out var view))
        {
            return view;
        }

        var caller = Caller.From(principal);
        view = new CallerView(caller, caller is null ? null : BuildRowFilter(caller) is { } filter ? filter with { Answers = answers } : null);
        if (_callers.Count >= MaxCallers)
        {
            _callers.Clear();
        }

        _callers[text] = view;
        return view;
    }

    internal AccessDecision Decide(AccessRequest request)
    {
        var view = View(request.Principal);
        if (view.Caller is not { } caller)
        {
            return AccessDecision.Deny("The access token names no known tessera_role and subject (sub); sign in again through Tessera's authorization server.", 401);
        }

        var type = request.ResourceType;
        switch (request.Interaction)
        {
            case AccessInteraction.Capabilities:
                return new AccessDecision { Permitted = true, Record = false };
            case AccessInteraction.Batch or AccessInteraction.Transaction:
                return AccessDecision.Permit(RowFilter(view), caller);
        }

        if (type == "AuditEvent")
        {
            return DecideAudit(request, caller);
        }

        if (request.Interaction == AccessInteraction.Operation)
        {
            return request.Operation switch
            {
                BreakGlass.BreakGlassOperation.OperationName => Roles.IsClinical(caller.Role)
                    ? AccessDecision.Permit(RowFilter(view), caller)
                    : AccessDecision.Deny($"Only clinical roles may break the glass; a {caller.Role} may not."),
                SubjectAccess.ExportRecordOperation.OperationName => DecideExport(request, caller),
                _ => AccessDecision.Permit(RowFilter(view), caller),
            };
        }

        if (request.IsWrite)
        {
            if (type is null || !MayWrite(caller, type))
            {
                return AccessDecision.Deny($"A {caller.Role} may not {request.Interaction.ToString().ToLowerInvariant()} {type ?? "resources"} (role or token scopes).");
            }

            return AccessDecision.Permit(RowFilter(view), caller);
        }

        if (type is not null && !MaySee(caller, type))
        {
            return AccessDecision.Deny($"A {caller.Role} may not read {type}: the role's categories{(caller.Scopes.ReadsEverything ? string.Empty : " or the token's scopes")} do not include it.");
        }

        return AccessDecision.Permit(RowFilter(view), caller);
    }

    private AccessDecision DecideAudit(AccessRequest request, Caller caller)
    {
        if (request.Interaction is not (AccessInteraction.Read or AccessInteraction.Search))
        {
            return AccessDecision.Deny("The audit trail is written only by Tessera itself and cannot be changed; it is read with GET AuditEvent?patient=... or AuditEvent/[id].");
        }

        string? person = null;
        if (caller.Role == Roles.Citizen)
        {
            person = caller.UserId("Patient");
            if (person is null)
            {
                return AccessDecision.Deny("A citizen's token must name their Patient record in fhirUser.");
            }
        }
        else if (caller.Role != Roles.IgLead)
        {
            return AccessDecision.Deny($"Only the information governance lead reads the audit trail (and citizens the audit of their own record); a {caller.Role} may not.");
        }

        return new AccessDecision { Permitted = true, State = caller, Answer = ct => auditQuery.AnswerAsync(request, person, ct) };
    }

    private AccessDecision DecideExport(AccessRequest request, Caller caller)
    {
        if (request.CompartmentPatient is not { } patient)
        {
            return AccessDecision.Deny("$export-record is invoked on a patient: POST [base]/Patient/[id]/$export-record.", 400);
        }

        if (caller.Role == Roles.IgLead || (caller.Role == Roles.Citizen && caller.UserId("Patient") == patient))
        {
            // The export sees the person's record and nothing else, whoever asks.
            var sql = new AccessSql();
            return AccessDecision.Permit(sql.Build($"{sql.NonPersonal} OR {sql.OfPerson(sql.Is(patient))}").At(audit.Now.ToUnixTimeMilliseconds()), caller);
        }

        return AccessDecision.Deny("Only the person themselves, or the information governance lead on their behalf, may export a record.");
    }

    private static readonly HashSet<string> PersonalTypes = [.. Tessera.RecordStore.FhirStore.PatientCompartmentTypes];

    private static bool MaySee(Caller caller, string type)
    {
        if (!caller.Scopes.CanRead(type))
        {
            return false;
        }

        var personal = PersonalTypes.Contains(type);
        return caller.Role switch
        {
            Roles.AdminStaff => type == "Patient" || !personal,
            Roles.IgLead => !personal || Array.IndexOf(IgLeadTypes, type) >= 0,
            _ => true,
        };
    }

    private static bool MayWrite(Caller caller, string type)
    {
        if (!caller.Scopes.CanWrite(type))
        {
            return false;
        }

        return caller.Role switch
        {
            Roles.Carer => false,
            Roles.AdminStaff => type == "Patient",
            Roles.IgLead => type == "Consent",
            _ => true,
        };
    }

    /// <summary>The rows the caller may see and write now.</summary>
    private AccessFilter? RowFilter(CallerView view) => view.Filter?.At(audit.Now.ToUnixTimeMilliseconds());

    /// <summary>The rows this caller may see and write (its time parameter bound per request).</summary>
    private static TimedFilter? BuildRowFilter(Caller caller) =>
        RowPredicate(caller, null) is var (sql, predicate) ? sql.Build(predicate, type => RowPredicate(caller, type) is var (typed, text) ? typed.Form(text) : throw new InvalidOperationException("A caller's filter has a form for every type.")) : null;

    /// <summary>
    /// The row filter's predicate, for rows of <paramref name="type"/> when it is known (null: any type). Whatever the
    /// type, the same parameters are made in the same order, so one set of values serves every form.
    /// </summary>
    private static (AccessSql Sql, string Predicate)? RowPredicate(Caller caller, string? type)
    {
        var sql = new AccessSql(type);
        var terms = new List<string>();
        switch (caller.Role)
        {
            case Roles.System:
                break;
            case Roles.Citizen:
                terms.Add($"({sql.NonPersonal} OR {sql.OfPerson(sql.Is(caller.UserId("Patient") ?? string.Empty))})");
                break;
            case Roles.Carer:
                {
                    var rp = sql.P(caller.UserId("RelatedPerson") is { } id ? "RelatedPerson/" + id : string.Empty);
                    var now = AccessSql.Now;
                    string Allowed(string key) => $"EXISTS (SELECT 1 FROM gov_relationship a WHERE a.patient_key = {key} AND a.party = {rp} AND a.basis = 'carer-consent' AND (a.expires IS NULL OR a.expires > {now}) AND EXISTS (SELECT 1 FROM gov_relationship b WHERE b.party = a.party AND b.patient_key = a.patient_key AND b.basis = 'related-person' AND (b.expires IS NULL OR b.expires > {now})) {AccessSql.Probe})";
                    terms.Add($"({sql.NonPersonal} OR ({sql.OfRow(Allowed)} AND NOT {sql.DeniedByConsent(null)}))");
                    break;
                }

            case Roles.IgLead:
                terms.Add($"({sql.NonPersonal} OR {{r}}.resource_type IN ('Patient', 'Consent') OR ({{r}}.resource_type = 'Communication' AND EXISTS (SELECT 1 FROM idx_token t WHERE t.resource_type = {{r}}.resource_type AND t.id = {{r}}.id AND t.param = '_tag' AND t.code = 'break-glass' {AccessSql.Probe})))");
                break;
            default:
                {
                    var parties = caller.Parties().ToList();
                    var care = $"({sql.OfRow(sql.Related(parties, AccessSql.CareBases.Replace(", 'break-glass'", string.Empty, StringComparison.Ordinal)))} AND NOT {sql.DeniedByConsent(caller.Organization)})";
                    var glass = Roles.IsClinical(caller.Role) ? $" OR {sql.GrantOfRow(sql.Related(["user:" + caller.Subject], "'break-glass'"))}" : string.Empty;
                    terms.Add($"({sql.NonPersonal} OR {care}{glass})");
                    if (caller.Role == Roles.AdminStaff)
                    {
                        terms.Add($"({{r}}.resource_type = 'Patient' OR {sql.NonPersonal})");
                    }

                    if (caller.Role == Roles.SocialWorker)
                    {
                        terms.Add($"NOT ({sql.LabResult} AND NOT {sql.OfRow(sql.Related(parties, "'care-team'"))})");
                    }

                    break;
                }
        }

        if (!caller.Scopes.ReadsEverything)
        {
            terms.Add(caller.Scopes.ReadTypes.Count == 0 ? "1 = 0" : sql.Types(caller.Scopes.ReadTypes));
        }

        if (caller.Scopes.PatientOnly)
        {
            // patient/ scopes bind to the launch patient; a citizen's own record is their context when none was launched.
            var launch = caller.Patient ?? (caller.Role == Roles.Citizen ? caller.UserId("Patient") : null);
            terms.Add(launch is not null ? $"({sql.NonPersonal} OR {sql.OfPerson(sql.Is(launch))})" : sql.NonPersonal);
        }

        return terms.Count == 0 ? null : (sql, string.Join(" AND ", terms));
    }

    public async Task RecordAsync(AccessRequest request, AccessDecision decision, AccessOutcome outcome, StoreTransaction? transaction, CancellationToken ct)
    {
        var caller = decision.State as Caller ?? Caller.From(request.Principal);
        var entry = AuditEvents.ForInteraction(request, caller, decision, outcome, audit.Now, Purpose(caller));
        if (transaction is not null)
        {
            // Appended just before the transaction commits, inside it: a transaction bundle's entries in one statement.
            transaction.BeforeCommit("gov-audit", entry, AuditTrail.AppendAsync);
        }
        else if (!outcome.Succeeded)
        {
            audit.RecordLater(entry);
        }
        else
        {
            await audit.RecordReadAsync(entry);
        }
    }

    /// <summary>Purpose of use (v3 ActReason) by role: treatment, patient or family request, operations.</summary>
    internal static string? Purpose(Caller? caller) => caller?.Role switch
    {
        null => null,
        Roles.Citizen => "PATRQT",
        Roles.Carer => "FAMRQT",
        Roles.IgLead or Roles.System or Roles.AdminStaff => "HOPERAT",
        _ => "TREAT",
    };
}
