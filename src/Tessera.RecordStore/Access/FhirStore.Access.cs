using System.Data.Common;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Storage;
using Task = System.Threading.Tasks.Task;

namespace Tessera.RecordStore;

/// <summary>
/// Access control beneath the REST layer: every interaction with a caller is decided by the registered
/// <see cref="IAccessPolicy"/>, and its filter travels (as an async-local grant) into every query the
/// interaction runs, including those of operations and bundle entries.
/// </summary>
public sealed partial class FhirStore
{
    private static readonly AsyncLocal<AccessGrant?> CurrentGrant = new();
    private readonly List<IResourceWriteObserver> _observers = [];

    /// <summary>The policy deciding interactions that carry a caller; null leaves the store open (internal use only).</summary>
    public IAccessPolicy? AccessPolicy { get; private set; }

    public void UseAccessPolicy(IAccessPolicy policy) => AccessPolicy = policy;

    /// <summary>The resource types of the FHIR R4 Patient compartment, Patient included: the types that hold personal records.</summary>
    public static IReadOnlyCollection<string> PatientCompartmentTypes { get; } = [.. PatientCompartment.Parameters.Keys.Append("Patient").Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];

    /// <summary>
    /// Runs an interaction outside any caller's grant — for a part's own checks (e.g. that a patient exists before a
    /// break-glass), never to answer a caller with what their grant would not show them.
    /// </summary>
    public async Task<FhirResponse> ExecuteUnrestrictedAsync(FhirRequest request, CancellationToken ct = default)
    {
        CurrentGrant.Value = null;
        return await ExecuteAsync(request with { Principal = null }, ct);
    }

    /// <summary>A command on a connection from <see cref="OpenConnectionAsync"/>; parameters are named as in the SQL ("@name").</summary>
    public static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters) =>
        Db.Command(connection, null, sql, parameters);

    /// <summary>Registers an observer told of every version written, inside the write's transaction.</summary>
    public void AddWriteObserver(IResourceWriteObserver observer) => _observers.Add(observer);

    /// <summary>The row filter of the interaction running on this async flow; null when unrestricted.</summary>
    private static AccessFilter? Filter => CurrentGrant.Value?.Filter;

    /// <summary>Whether the interaction running on this async flow has a row filter.</summary>
    internal static bool Filtered => Filter is not null;

    private sealed record AccessGrant(AccessFilter? Filter);

    /// <summary>Decides, runs and records one interaction; ungoverned callers run straight through.</summary>
    private async Task<FhirResponse> GovernAsync(FhirRequest request, WriteScope? scope, Func<WriteScope?, Task<FhirResponse>> run, CancellationToken ct)
    {
        if (AccessPolicy is not { } policy || request.Principal is null)
        {
            return await run(scope);
        }

        var access = Classify(request);
        var decision = await policy.DecideAsync(access, ct);
        if (!decision.Permitted)
        {
            var refusal = new FhirException(decision.Status, Outcomes.Error(OperationOutcome.IssueType.Forbidden, decision.Reason ?? "You are not allowed to do this."));
            await RecordFailureAsync(policy, access, decision, refusal, ct);
            throw refusal;
        }

        CurrentGrant.Value = new AccessGrant(decision.Filter);
        try
        {
            if (decision.Answer is { } answer)
            {
                var answered = await answer(ct);
                await RecordAsync(policy, access, decision, answered, scope, ct);
                return answered;
            }

            if (access.IsWrite)
            {
                return await InWriteAsync(scope, async s =>
                {
                    await RequireWritableAsync(s, access with { BodyPatientKey = BodyPatientKey(request) }, decision.Filter, ct);
                    var written = await run(s);
                    await RecordAsync(policy, access, decision, written, s, ct);
                    return written;
                }, ct, hold: true);
            }

            var response = await run(scope);
            await RecordAsync(policy, access, decision, response, scope, ct);
            return response;
        }
        catch (FhirException e)
        {
            await RecordFailureAsync(policy, access, decision, e, ct);
            throw;
        }
    }

    private async Task RecordAsync(IAccessPolicy policy, AccessRequest access, AccessDecision decision, FhirResponse response, WriteScope? scope, CancellationToken ct)
    {
        if (decision.Record)
        {
            var transaction = scope is null ? null : new StoreTransaction(scope, _dialect.Kind) { Dialect = _dialect };
            await policy.RecordAsync(access, decision, new AccessOutcome(response), transaction, ct);
        }
    }

    /// <summary>Refusals and failures are recorded outside any transaction, which they roll back.</summary>
    private static async Task RecordFailureAsync(IAccessPolicy policy, AccessRequest access, AccessDecision decision, FhirException e, CancellationToken ct)
    {
        if (decision.Record)
        {
            await policy.RecordAsync(access, decision, new AccessOutcome(new FhirResponse { Status = e.Status, Outcome = e.Outcome, Resource = e.Outcome }), null, ct);
        }
    }

    private string? BodyPatientKey(FhirRequest request) =>
        request.Resource is { } body and not Bundle ? ResourceIndexer.PatientKey(body, _indexer.Extract(body)) : null;

    /// <summary>A write must be on a resource the caller can see, and must not put a resource where they cannot.</summary>
    private async Task RequireWritableAsync(WriteScope scope, AccessRequest access, AccessFilter? filter, CancellationToken ct)
    {
        if (filter is null || access.ResourceType is null)
        {
            return;
        }

        if (access.Id is null && access.Interaction != AccessInteraction.Create)
        {
            throw new FhirException(403, Outcomes.Error(OperationOutcome.IssueType.Forbidden, $"Conditional {access.Interaction.ToString().ToLowerInvariant()} is not open to callers whose access is limited; address the {access.ResourceType} by id."));
        }

        if (access.Id is not null && !await IsVisibleAsync(scope.Connection, scope.Transaction, access.ResourceType, access.Id, filter, ct))
        {
            throw Forbidden(access.ResourceType, access.Id);
        }

        if (access.Interaction is AccessInteraction.Create or AccessInteraction.Update)
        {
            // The version to be written has no number yet: a filter judges it by what is stored (see AccessFilter).
            var sql = $"SELECT 1 FROM (SELECT CAST(@t AS TEXT) AS resource_type, CAST(@id AS TEXT) AS id, CAST(@pk AS TEXT) AS patient_key, CAST(NULL AS BIGINT) AS version) w WHERE {filter.For("w")}";
            await using var cmd = Db.Command(scope.Connection, scope.Transaction, sql, [("t", access.ResourceType), ("id", access.Id ?? string.Empty), ("pk", access.BodyPatientKey), .. filter.Parameters]);
            if (await cmd.ExecuteScalarAsync(ct) is null)
            {
                throw new FhirException(403, Outcomes.Error(OperationOutcome.IssueType.Forbidden, $"You may not write this {access.ResourceType}: it belongs to a record you have no access to."));
            }
        }
    }

    private static FhirException Forbidden(string type, string id) =>
        new(403, Outcomes.Error(OperationOutcome.IssueType.Forbidden, $"You have no access to {type}/{id}: no care relationship, consent or role allows it. A clinician with an urgent need may use break-glass (Patient/[id]/$break-glass)."));

    /// <summary>Throws 403 unless the current resource row passes the interaction's filter.</summary>
    private static async Task RequireVisibleAsync(DbConnection connection, DbTransaction? transaction, string type, string id, CancellationToken ct)
    {
        if (Filter is { } filter && !await IsVisibleAsync(connection, transaction, type, id, filter, ct))
        {
            throw Forbidden(type, id);
        }
    }

    private static async Task<bool> IsVisibleAsync(DbConnection connection, DbTransaction? transaction, string type, string id, AccessFilter filter, CancellationToken ct)
    {
        await using var cmd = Db.Command(connection, transaction, $"SELECT 1 FROM resource r WHERE r.resource_type = @t AND r.id = @id AND {filter.For("r")}", [("t", type), ("id", id), .. filter.Parameters]);
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    /// <summary>The keys among <paramref name="keys"/> the interaction's filter lets through (for includes).</summary>
    internal static async Task<List<(string Type, string Id)>> VisibleAsync(DbConnection connection, DbTransaction? transaction, List<(string Type, string Id)> keys, CancellationToken ct)
    {
        if (Filter is not { } filter || keys.Count == 0)
        {
            return keys;
        }

        var visible = new HashSet<(string, string)>();
        foreach (var chunk in keys.Chunk(200))
        {
            var clauses = new List<string>();
            var parameters = new List<(string, object?)>(filter.Parameters);
            for (var i = 0; i < chunk.Length; i++)
            {
                clauses.Add($"(r.resource_type = @vt{i} AND r.id = @vi{i})");
                parameters.Add(($"vt{i}", chunk[i].Type));
                parameters.Add(($"vi{i}", chunk[i].Id));
            }

            await using var cmd = Db.Command(connection, transaction, $"SELECT r.resource_type, r.id FROM resource r WHERE ({string.Join(" OR ", clauses)}) AND {filter.For("r")}", [.. parameters]);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                visible.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        return keys.Where(visible.Contains).ToList();
    }

    /// <summary>The filter as an extra WHERE term over <paramref name="alias"/>, with its parameters; empty when unrestricted.</summary>
    internal static (string Sql, (string, object?)[] Parameters) FilterTerm(string alias, string? type = null) =>
        Filter is { } filter ? (" AND " + filter.For(alias, type), [.. filter.Parameters]) : (string.Empty, []);

    /// <summary>
    /// The filter as an extra WHERE term whose values are bound through <paramref name="bind"/> (a query builder's
    /// parameters); <paramref name="type"/> when the query fixes the rows' type.
    /// </summary>
    internal static string FilterSql(string alias, Func<object?, string> bind, string? type = null) =>
        Filter is { } filter ? BindFilter(filter, alias, bind, type) : string.Empty;

    /// <summary>
    /// As <see cref="FilterSql"/>, for a query whose rows all belong to the patient <paramref name="patientKey"/>
    /// (its WHERE clause says so): the filter the policy settles for that patient (<see cref="AccessFilter.ForPatient"/>),
    /// which leaves out the tests of the patient that PostgreSQL would otherwise plan for every search. The policy may
    /// settle it on answers <paramref name="rows"/> guessed (<see cref="PatientRows.Deferred"/>), which the query must then confirm.
    /// </summary>
    internal static async Task<string> PatientFilterSqlAsync(PatientRows rows, string alias, Func<object?, string> bind, CancellationToken ct)
    {
        if (Filter is not { } filter)
        {
            return string.Empty;
        }

        if (filter.ForPatient is { } forPatient)
        {
            filter = await forPatient(rows, ct);
        }

        var type = rows.ResourceType;
        return BindFilter(filter, alias, bind, type);
    }

    /// <summary>
    /// The filter's text for <paramref name="alias"/> with each of its parameters ("@acc_...") bound through
    /// <paramref name="bind"/>, in one pass over the text: each name the text uses is bound once, wherever it appears,
    /// and a value the text does not use (a type-specific or settled form can drop a test) is not bound, as
    /// PostgreSQL cannot type an unused parameter.
    /// </summary>
    private static string BindFilter(AccessFilter filter, string alias, Func<object?, string> bind, string? type)
    {
        var sql = filter.For(alias, type);
        var bound = new Dictionary<string, string>(StringComparer.Ordinal);
        var text = new System.Text.StringBuilder(sql.Length + 8).Append(" AND ");
        var from = 0;
        for (var at = sql.IndexOf('@', StringComparison.Ordinal); at >= 0; at = sql.IndexOf('@', from))
        {
            var end = at + 1;
            while (end < sql.Length && (char.IsAsciiLetterOrDigit(sql[end]) || sql[end] == '_'))
            {
                end++;
            }

            var name = sql[(at + 1)..end];
            text.Append(sql, from, at - from);
            if (!bound.TryGetValue(name, out var replacement))
            {
                var index = IndexOf(filter.Parameters, name);
                replacement = index >= 0 ? bind(filter.Parameters[index].Value) : "@" + name;
                bound[name] = replacement;
            }

            text.Append(replacement);
            from = end;
        }

        return text.Append(sql, from, sql.Length - from).ToString();
    }

    private static int IndexOf(IReadOnlyList<(string Name, object? Value)> parameters, string name)
    {
        for (var i = 0; i < parameters.Count; i++)
        {
            if (parameters[i].Name == name)
            {
                return i;
            }
        }

        return -1;
    }

    private async Task NotifyWrittenAsync(WriteScope scope, string type, string id, Resource? resource, CancellationToken ct)
    {
        if (_observers.Count == 0)
        {
            return;
        }

        var transaction = new StoreTransaction(scope, _dialect.Kind) { Dialect = _dialect };
        foreach (var observer in _observers)
        {
            await observer.OnWrittenAsync(transaction, type, id, resource, ct);
        }
    }

    /// <summary>What an interaction is, from its method and path, as the dispatcher routes it.</summary>
    private static AccessRequest Classify(FhirRequest request)
    {
        var s = request.Path.Length == 0 ? [] : request.Path.Split('/');
        var m = request.Method;
        AccessRequest Make(AccessInteraction interaction, string? type = null, string? id = null, string? compartment = null, string? operation = null) =>
            new() { Request = request, Principal = request.Principal!, Interaction = interaction, ResourceType = type, Id = id, CompartmentPatient = compartment, Operation = operation };

        static bool IsRead(string method) => method is "GET" or "HEAD";
        return s.Length switch
        {
            0 => Make(request.Resource is Bundle { Type: Bundle.BundleType.Transaction } ? AccessInteraction.Transaction : AccessInteraction.Batch),
            1 when s[0] == "metadata" => Make(AccessInteraction.Capabilities),
            1 when s[0] == "_history" => Make(AccessInteraction.History),
            1 when s[0].StartsWith('$') => Make(AccessInteraction.Operation, operation: s[0][1..]),
            1 => m switch
            {
                "POST" => Make(AccessInteraction.Create, s[0]),
                "PUT" => Make(AccessInteraction.Update, s[0]),
                "DELETE" => Make(AccessInteraction.Delete, s[0]),
                "PATCH" => Make(AccessInteraction.Patch, s[0]),
                _ => Make(AccessInteraction.Search, s[0]),
            },
            2 when s[1] == "_search" => Make(AccessInteraction.Search, s[0]),
            2 when s[1] == "_history" => Make(AccessInteraction.History, s[0]),
            2 when s[1].StartsWith('$') => Make(AccessInteraction.Operation, s[0], operation: s[1][1..]),
            2 => m switch
            {
                "PUT" => Make(AccessInteraction.Update, s[0], s[1]),
                "DELETE" => Make(AccessInteraction.Delete, s[0], s[1]),
                "PATCH" => Make(AccessInteraction.Patch, s[0], s[1]),
                _ => Make(AccessInteraction.Read, s[0], s[1]),
            },
            3 when s[2].StartsWith('$') => Make(AccessInteraction.Operation, s[0], s[1], s[0] == "Patient" ? s[1] : null, s[2][1..]),
            3 when s[2] == "_history" => Make(AccessInteraction.History, s[0], s[1]),
            3 when s[0] == "Patient" && IsRead(m) => Make(AccessInteraction.Search, s[2], compartment: s[1]),
            4 when s[2] == "_history" => Make(AccessInteraction.VRead, s[0], s[1]),
            _ => Make(IsRead(m) ? AccessInteraction.Read : AccessInteraction.Operation, s[0]),
        };
    }
}
