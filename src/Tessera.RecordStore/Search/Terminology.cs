using System.Data.Common;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Search;

/// <summary>
/// A set of codes resolved from the server's own terminology: (system, code) pairs, whole systems (code null),
/// and exclusions. Token :in / :not-in / :above / :below are rewritten into these before SQL is generated.
/// </summary>
internal sealed record CodeSet(IReadOnlyList<(string System, string? Code)> Include, IReadOnlyList<(string System, string? Code)> Exclude);

/// <summary>A token parameter tested against a resolved code set (any coding in it matches; negated for :not-in).</summary>
internal sealed record CodeSetCriterion(Indexing.SearchParam Param, bool Negate, CodeSet Codes) : SearchCriterion;

/// <summary>
/// Resolves terminology modifiers against ValueSet and CodeSystem resources held on this server: a ValueSet by
/// canonical url (optionally |version) or literal reference (ValueSet/id); its expansion.contains, compose.include
/// of concepts, whole systems, nested value sets and is-a / descendent-of filters, minus compose.exclude; and
/// CodeSystem hierarchies (nested concepts, or the parent / child properties) for :above and :below.
/// </summary>
internal sealed class Terminology(ResourceRepository repository)
{
    private const int MaxNesting = 8;

    /// <summary>Rewrites the criteria of a query (also inside chains and _has) that need terminology.</summary>
    public async System.Threading.Tasks.Task ResolveAsync(DbConnection connection, DbTransaction? transaction, SearchQuery query, CancellationToken ct)
    {
        for (var i = 0; i < query.Criteria.Count; i++)
        {
            query.Criteria[i] = await ResolveAsync(connection, transaction, query.Criteria[i], ct);
        }
    }

    private async Task<SearchCriterion> ResolveAsync(DbConnection connection, DbTransaction? transaction, SearchCriterion criterion, CancellationToken ct)
    {
        switch (criterion)
        {
            case ChainCriterion chain:
                return chain with { Inner = await ResolveAsync(connection, transaction, chain.Inner, ct) };
            case HasCriterion has:
                return has with { Inner = await ResolveAsync(connection, transaction, has.Inner, ct) };
            case ParamCriterion { Param.Type: SearchParamType.Token, Modifier: "in" or "not-in" or "above" or "below" } p:
                var include = new List<(string, string?)>();
                var exclude = new List<(string, string?)>();
                foreach (var value in p.Values)
                {
                    if (p.Modifier is "in" or "not-in")
                    {
                        var set = await ExpandAsync(connection, transaction, value, 0, ct);
                        include.AddRange(set.Include);
                        exclude.AddRange(set.Exclude);
                    }
                    else
                    {
                        var (system, code, _) = SearchQuery.SplitToken(value);
                        if (string.IsNullOrEmpty(system) || string.IsNullOrEmpty(code))
                        {
                            throw FhirException.BadRequest($":{p.Modifier} on token '{p.Param.Code}' takes system|code, so the server knows whose hierarchy to follow; not '{value}'.", p.Param.Code);
                        }

                        var codes = await HierarchyAsync(connection, transaction, system, code, below: p.Modifier == "below", ct);
                        include.AddRange(codes.Select(c => (system, (string?)c)));
                    }
                }

                return new CodeSetCriterion(p.Param, p.Modifier == "not-in", new CodeSet(include, exclude));
            default:
                return criterion;
        }
    }

    private async Task<CodeSet> ExpandAsync(DbConnection connection, DbTransaction? transaction, string reference, int depth, CancellationToken ct)
    {
        if (depth > MaxNesting)
        {
            throw FhirException.BadRequest($"ValueSet '{reference}' nests other value sets more than {MaxNesting} deep (or includes itself).");
        }

        var valueSet = await FindAsync<ValueSet>(connection, transaction, reference, ct)
            ?? throw FhirException.BadRequest($"ValueSet '{reference}' is not held on this server: POST it to [base]/ValueSet first, or name it by its canonical url or as ValueSet/[id].", null, OperationOutcome.IssueType.NotFound);
        var include = new List<(string, string?)>();
        var exclude = new List<(string, string?)>();
        if (valueSet.Expansion?.Contains is { Count: > 0 } contains)
        {
            Flatten(contains, include);
            return new CodeSet(include, exclude);
        }

        foreach (var component in valueSet.Compose?.Include ?? [])
        {
            await AddComponentAsync(connection, transaction, component, include, depth, ct);
        }

        foreach (var component in valueSet.Compose?.Exclude ?? [])
        {
            await AddComponentAsync(connection, transaction, component, exclude, depth, ct);
        }

        return new CodeSet(include, exclude);
    }

    private async System.Threading.Tasks.Task AddComponentAsync(DbConnection connection, DbTransaction? transaction, ValueSet.ConceptSetComponent component, List<(string, string?)> into, int depth, CancellationToken ct)
    {
        var fromSystem = new List<(string, string?)>();
        var system = component.System;
        if (system is not null)
        {
            if (component.Concept.Count > 0)
            {
                fromSystem.AddRange(component.Concept.Select(c => (system, (string?)c.Code)));
            }
            else if (component.Filter.Count > 0)
            {
                HashSet<string>? codes = null;
                foreach (var filter in component.Filter)
                {
                    if (filter.Property != "concept" || filter.Op is not (FilterOperator.IsA or FilterOperator.DescendentOf))
                    {
                        throw FhirException.NotSupported($"ValueSet filter '{filter.Property} {filter.Op} {filter.Value}' on {system} is not supported; this server expands concept lists, whole systems and concept is-a / descendent-of filters.");
                    }

                    var below = await HierarchyAsync(connection, transaction, system, filter.Value ?? string.Empty, below: true, ct);
                    var selected = filter.Op == FilterOperator.IsA ? below : below.Where(c => c != filter.Value);
                    codes = codes is null ? [.. selected] : [.. codes.Intersect(selected)];
                }

                fromSystem.AddRange(codes!.Select(c => (system, (string?)c)));
            }
            else
            {
                fromSystem.Add((system, null));
            }
        }

        // Several sets in one component intersect with each other and with the system part.
        List<(string, string?)>? combined = system is null ? null : fromSystem;
        foreach (var nested in component.ValueSet.OfType<string>())
        {
            var set = await ExpandAsync(connection, transaction, nested, depth + 1, ct);
            var members = set.Include.Where(i => !set.Exclude.Contains(i)).ToList();
            combined = combined is null ? members : Intersect(combined, members);
        }

        into.AddRange(combined ?? []);
    }

    private static List<(string, string?)> Intersect(List<(string System, string? Code)> a, List<(string System, string? Code)> b) =>
        [.. a.Where(x => b.Any(y => y.System == x.System && (y.Code is null || y.Code == x.Code)))
            .Concat(b.Where(y => y.Code is not null && a.Any(x => x.System == y.System && x.Code is null)))
            .Distinct()];

    private static void Flatten(IEnumerable<ValueSet.ContainsComponent> contains, List<(string, string?)> into)
    {
        foreach (var c in contains)
        {
            if (c.System is not null && c.Code is not null && c.Abstract != true)
            {
                into.Add((c.System, c.Code));
            }

            Flatten(c.Contains, into);
        }
    }

    /// <summary>The code and its descendants (below) or ancestors (above) in the CodeSystem held on the server.</summary>
    private async Task<HashSet<string>> HierarchyAsync(DbConnection connection, DbTransaction? transaction, string system, string code, bool below, CancellationToken ct)
    {
        var codeSystem = await FindAsync<CodeSystem>(connection, transaction, system, ct)
            ?? throw FhirException.BadRequest($"CodeSystem '{system}' is not held on this server, so its hierarchy is unknown: POST the CodeSystem to [base]/CodeSystem first.", null, OperationOutcome.IssueType.NotFound);
        var parents = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        void Link(string child, string parent)
        {
            if (!parents.TryGetValue(child, out var set))
            {
                parents[child] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            set.Add(parent);
        }

        void Walk(IEnumerable<CodeSystem.ConceptDefinitionComponent> concepts, string? parent)
        {
            foreach (var concept in concepts)
            {
                if (concept.Code is not { } code)
                {
                    continue;
                }

                if (parent is not null)
                {
                    Link(code, parent);
                }

                foreach (var property in concept.Property)
                {
                    if (property.Value is Code { Value: { } value } && property.Code is "parent" or "subsumedBy")
                    {
                        Link(code, value);
                    }
                    else if (property.Value is Code { Value: { } child } && property.Code == "child")
                    {
                        Link(child, code);
                    }
                }

                Walk(concept.Concept, code);
            }
        }

        Walk(codeSystem.Concept, null);
        var result = new HashSet<string>(StringComparer.Ordinal) { code };
        var frontier = new Queue<string>([code]);
        while (frontier.TryDequeue(out var current))
        {
            var next = below
                ? parents.Where(kv => kv.Value.Contains(current)).Select(kv => kv.Key)
                : parents.TryGetValue(current, out var up) ? up : [];
            foreach (var n in next)
            {
                if (result.Add(n))
                {
                    frontier.Enqueue(n);
                }
            }
        }

        return result;
    }

    /// <summary>A canonical resource by literal reference (Type/id) or canonical url (|version), newest first.</summary>
    private async Task<T?> FindAsync<T>(DbConnection connection, DbTransaction? transaction, string reference, CancellationToken ct)
        where T : Resource
    {
        var type = typeof(T).Name;
        string? id = null;
        if (reference.StartsWith(type + "/", StringComparison.Ordinal) && !reference.Contains("://", StringComparison.Ordinal))
        {
            id = reference[(type.Length + 1)..];
        }
        else
        {
            var bar = reference.LastIndexOf('|');
            var url = bar >= 0 ? reference[..bar] : reference;
            var version = bar >= 0 ? reference[(bar + 1)..] : null;
            var sql = "SELECT r.id FROM idx_uri u JOIN resource r ON r.resource_type = u.resource_type AND r.id = u.id AND r.deleted = 0 WHERE u.resource_type = @t AND u.param = 'url' AND u.value = @url"
                + (version is null ? string.Empty : " AND EXISTS (SELECT 1 FROM idx_token v WHERE v.resource_type = r.resource_type AND v.id = r.id AND v.param = 'version' AND v.code = @v)")
                + " ORDER BY r.last_updated DESC, r.id LIMIT 1";
            (string, object?)[] parameters = version is null ? [("t", type), ("url", url)] : [("t", type), ("url", url), ("v", version)];
            await using var cmd = Db.Command(connection, transaction, sql, parameters);
            id = await cmd.ExecuteScalarAsync(ct) as string;
        }

        if (id is null)
        {
            return null;
        }

        var stored = await repository.ReadCurrentAsync(connection, transaction, type, id, ct);
        return stored is { Deleted: false, Json: not null } ? FhirSerialization.ParseStored(stored.Json) as T : null;
    }
}
