using System.Collections.Concurrent;
using Hl7.Fhir.Model;

namespace Tessera.RecordStore.Indexing;

/// <summary>One component of a composite parameter: its type and its expression, relative to the composite's node.</summary>
public sealed record CompositeComponent(SearchParamType Type, string Expression, string Definition);

/// <summary>One search parameter as the server applies it to one resource type.</summary>
public sealed record SearchParam(string ResourceType, string Code, SearchParamType Type, string? Expression, string Url, IReadOnlyList<string> Targets, IReadOnlyList<CompositeComponent>? Components = null)
{
    /// <summary>Parameters every resource has and which the store answers from its own columns or meta.</summary>
    public bool IsCommon => Code.StartsWith('_');

    /// <summary>
    /// For a union of other parameters (see <see cref="UnionParameters"/>), the codes of those parts: the parameter
    /// has no index rows of its own and is searched through theirs. Null for a parameter indexed under its own code.
    /// </summary>
    internal IReadOnlyList<string>? UnionOf { get; init; }

    /// <summary>The codes whose index rows hold this parameter's values: its parts when it is a union, else its own.</summary>
    internal IReadOnlyList<string> IndexCodes => UnionOf ?? [Code];
}

/// <summary>
/// The search parameters the server knows, per resource type: FHIR R4 core (from the Firely model's
/// definitions), the common ones every resource has, and each store's custom parameters (active
/// SearchParameter resources held on the store; see <see cref="CustomSearchParameters"/>). Core expressions
/// are narrowed to the resource type, since core definitions share one union expression across many types.
/// </summary>
public sealed class SearchParameterRegistry
{
    private static readonly Lazy<Dictionary<string, Dictionary<string, SearchParam>>> CoreByType = new(LoadCore);

    private static readonly Lazy<HashSet<string>> CoreUrls = new(() => [.. ModelInfo.SearchParameters.Select(d => d.Url).OfType<string>()]);

    // Custom parameters by type and code, and which SearchParameter resource defined each.
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, SearchParam>> _custom = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IReadOnlyList<SearchParam>> _customById = new(StringComparer.Ordinal);
    private readonly Lock _customLock = new();
    private readonly string _instance = Guid.NewGuid().ToString("N");
    private int _version;

    /// <summary>R4 core and the common parameters only (no custom ones).</summary>
    public static SearchParameterRegistry Core { get; } = new();

    /// <summary>A registry for one store: core, plus the custom parameters registered on it.</summary>
    internal static SearchParameterRegistry ForStore() => new();

    private SearchParameterRegistry()
    {
    }

    /// <summary>Changes whenever a custom parameter is registered or removed (for caches of what the server offers).</summary>
    public string CacheKey => _instance + ":" + Volatile.Read(ref _version).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Whether <paramref name="url"/> is the canonical url of an R4 core search parameter.</summary>
    internal static bool IsCoreUrl(string? url) => url is not null && CoreUrls.Value.Contains(url);

    private static Dictionary<string, Dictionary<string, SearchParam>> LoadCore()
    {
        var byType = new Dictionary<string, Dictionary<string, SearchParam>>(StringComparer.Ordinal);

        // Composite components name other definitions by url; their type is what a component is searched as.
        var typeByUrl = new Dictionary<string, SearchParamType>(StringComparer.Ordinal);
        foreach (var def in ModelInfo.SearchParameters)
        {
            if (def.Url is not null)
            {
                typeByUrl.TryAdd(def.Url, def.Type);
            }
        }

        foreach (var def in ModelInfo.SearchParameters)
        {
            if (def.Resource is null || def.Code is null || string.IsNullOrEmpty(def.Expression))
            {
                continue;
            }

            var expression = NarrowToType(def.Expression, def.Resource);
            if (expression is null)
            {
                continue;
            }

            IReadOnlyList<CompositeComponent>? components = null;
            if (def.Type == SearchParamType.Composite)
            {
                components = Components(def, typeByUrl);
                if (components is null)
                {
                    continue;
                }
            }

            var targets = def.Target?.Select(t => t.ToString()).ToArray() ?? [];
            var param = new SearchParam(def.Resource, def.Code, def.Type, expression, def.Url ?? string.Empty, targets, components);
            if (!byType.TryGetValue(param.ResourceType, out var map))
            {
                byType[param.ResourceType] = map = new Dictionary<string, SearchParam>(StringComparer.Ordinal);
            }

            map[param.Code] = param;
        }

        foreach (var (type, map) in byType)
        {
            // The compartment's parameters are read from a resource's extracted values by code (the patient key):
            // they keep rows of their own even were they unions.
            var compartment = PatientCompartment.Parameters.GetValueOrDefault(type) ?? [];
            foreach (var (code, parts) in UnionParameters.Find(map.Values.Where(p => !compartment.Contains(p.Code))))
            {
                map[code] = map[code] with { UnionOf = parts };
            }
        }

        return byType;
    }

    /// <summary>A composite's components with their types, or null when one cannot be resolved (then it is not offered).</summary>
    private static List<CompositeComponent>? Components(SearchParamDefinition def, Dictionary<string, SearchParamType> typeByUrl)
    {
        if (def.Component is not { Length: >= 2 } parts)
        {
            return null;
        }

        var result = new List<CompositeComponent>();
        foreach (var part in parts)
        {
            if (part.Definition is null || string.IsNullOrEmpty(part.Expression) || !typeByUrl.TryGetValue(part.Definition, out var type)
                || type is SearchParamType.Composite or SearchParamType.Special)
            {
                return null;
            }

            // R4 writes value.as(DateTime) in code-value-date; the FHIR type is dateTime (DateTime is System.DateTime,
            // which a FHIR element is not), so as written it would select nothing.
            var expression = part.Expression.Replace("as(DateTime)", "as(dateTime)", StringComparison.Ordinal);
            result.Add(new CompositeComponent(type, expression, part.Definition));
        }

        return result;
    }

    public static readonly IReadOnlyList<SearchParam> CommonParameters =
    [
        new("Resource", "_id", SearchParamType.Token, null, "http://hl7.org/fhir/SearchParameter/Resource-id", []),
        new("Resource", "_lastUpdated", SearchParamType.Date, null, "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated", []),
        new("Resource", "_tag", SearchParamType.Token, "meta.tag", "http://hl7.org/fhir/SearchParameter/Resource-tag", []),
        new("Resource", "_profile", SearchParamType.Uri, "meta.profile", "http://hl7.org/fhir/SearchParameter/Resource-profile", []),
        new("Resource", "_security", SearchParamType.Token, "meta.security", "http://hl7.org/fhir/SearchParameter/Resource-security", []),
        new("Resource", "_source", SearchParamType.Uri, "meta.source", "http://hl7.org/fhir/SearchParameter/Resource-source", []),
    ];

    /// <summary>
    /// The R4 core parameters that are unions of others (see <see cref="UnionParameters"/>): they have no index rows
    /// of their own. Unions are only ever core parameters, whose parts a custom definition cannot replace.
    /// </summary>
    internal static IEnumerable<SearchParam> CoreUnions =>
        CoreByType.Value.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .SelectMany(kv => kv.Value.Values.Where(p => p.UnionOf is not null).OrderBy(p => p.Code, StringComparer.Ordinal));

    /// <summary>
    /// Indexes and searches unions under their own codes, as the store did before it answered them from their parts:
    /// for tests that compare the two.
    /// </summary>
    internal bool UnionsIndexed { get; set; }

    private SearchParam Applied(SearchParam p) => UnionsIndexed && p.UnionOf is not null ? p with { UnionOf = null } : p;

    /// <summary>The parameter named <paramref name="code"/> for a type, or null when the server does not know it.</summary>
    public SearchParam? Find(string resourceType, string code)
    {
        if (CoreByType.Value.TryGetValue(resourceType, out var map) && map.TryGetValue(code, out var p))
        {
            return Applied(p);
        }

        if (_custom.TryGetValue(resourceType, out var custom) && custom.TryGetValue(code, out var c))
        {
            return c;
        }

        return CommonParameters.FirstOrDefault(c => c.Code == code);
    }

    /// <summary>The parameters indexed for a type (common and custom ones included).</summary>
    public IEnumerable<SearchParam> For(string resourceType)
    {
        var own = CoreByType.Value.TryGetValue(resourceType, out var map) ? map.Values : Enumerable.Empty<SearchParam>();
        var custom = _custom.TryGetValue(resourceType, out var c) ? c.Values : Enumerable.Empty<SearchParam>();
        return own.Select(Applied).Concat(custom).Concat(CommonParameters.Where(c => c.Expression is not null));
    }

    /// <summary>The custom parameters a SearchParameter resource defined, if any.</summary>
    internal IReadOnlyList<SearchParam> CustomDefinedBy(string id) => _customById.TryGetValue(id, out var list) ? list : [];

    /// <summary>The id of the SearchParameter resource that defines a custom parameter, or null.</summary>
    internal string? CustomOwner(string resourceType, string code) =>
        _customById.FirstOrDefault(kv => kv.Value.Any(p => p.ResourceType == resourceType && p.Code == code)).Key;

    /// <summary>Uses the parameters of a SearchParameter resource from now on, replacing what it defined before.</summary>
    internal void Register(string id, IReadOnlyList<SearchParam> parameters)
    {
        lock (_customLock)
        {
            RemoveLocked(id);
            foreach (var p in parameters)
            {
                _custom.GetOrAdd(p.ResourceType, _ => new ConcurrentDictionary<string, SearchParam>(StringComparer.Ordinal))[p.Code] = p;
            }

            if (parameters.Count > 0)
            {
                _customById[id] = parameters;
            }

            Interlocked.Increment(ref _version);
        }
    }

    /// <summary>Stops using what a SearchParameter resource defined (it was deleted, retired or made draft).</summary>
    internal void Unregister(string id)
    {
        lock (_customLock)
        {
            if (RemoveLocked(id))
            {
                Interlocked.Increment(ref _version);
            }
        }
    }

    private bool RemoveLocked(string id)
    {
        if (!_customById.TryRemove(id, out var old))
        {
            return false;
        }

        foreach (var p in old)
        {
            if (_custom.TryGetValue(p.ResourceType, out var map))
            {
                map.TryRemove(p.Code, out _);
            }
        }

        return true;
    }

    /// <summary>
    /// Keeps only the union branches of a core expression that start at <paramref name="type"/>, so a
    /// Patient is not evaluated against Practitioner paths. Null when no branch applies.
    /// </summary>
    internal static string? NarrowToType(string expression, string type)
    {
        var branches = SplitUnion(expression);
        var kept = branches.Where(b => AppliesTo(b, type)).ToList();
        return kept.Count == 0 ? null : string.Join(" | ", kept);
    }

    private static bool AppliesTo(string branch, string type)
    {
        var b = branch.TrimStart('(', ' ');
        return b.StartsWith(type + ".", StringComparison.Ordinal) || b == type || b.StartsWith(type + " ", StringComparison.Ordinal)
            || b.StartsWith("Resource.", StringComparison.Ordinal) || b.StartsWith("DomainResource.", StringComparison.Ordinal);
    }

    /// <summary>The branches of a top-level union (outside parentheses and string literals), trimmed.</summary>
    internal static List<string> SplitUnion(string expression)
    {
        var parts = new List<string>();
        var start = 0;
        foreach (var (i, depth) in OutsideLiterals(expression))
        {
            if (depth == 0 && expression[i] == '|')
            {
                parts.Add(expression[start..i].Trim());
                start = i + 1;
            }
        }

        parts.Add(expression[start..].Trim());
        return parts;
    }

    /// <summary>
    /// The positions of an expression's characters outside string literals, each with how many parentheses enclose
    /// it (a parenthesis itself counts as outside the pair it opens or closes).
    /// </summary>
    internal static IEnumerable<(int Index, int Depth)> OutsideLiterals(string expression)
    {
        var depth = 0;
        var inString = false;
        for (var i = 0; i < expression.Length; i++)
        {
            var c = expression[i];
            if (c == '\'' && (i == 0 || expression[i - 1] != '\\'))
            {
                inString = !inString;
            }
            else if (!inString)
            {
                if (c == ')')
                {
                    depth--;
                }

                yield return (i, depth);
                if (c == '(')
                {
                    depth++;
                }
            }
        }
    }
}
