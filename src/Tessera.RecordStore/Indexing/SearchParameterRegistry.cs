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
}

/// <summary>
/// The search parameters the server knows, per resource type: FHIR R4 core (from the Firely model's
/// definitions) plus the common ones every resource has. Expressions are narrowed to the resource
/// type, since core definitions share one union expression across many types.
/// </summary>
public sealed class SearchParameterRegistry
{
    private readonly ConcurrentDictionary<string, Dictionary<string, SearchParam>> _byType = new(StringComparer.Ordinal);

    public static SearchParameterRegistry Core { get; } = new();

    private SearchParameterRegistry()
    {
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
            Add(new SearchParam(def.Resource, def.Code, def.Type, expression, def.Url ?? string.Empty, targets, components));
        }
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

    private void Add(SearchParam param) =>
        _byType.GetOrAdd(param.ResourceType, _ => new Dictionary<string, SearchParam>(StringComparer.Ordinal))[param.Code] = param;

    /// <summary>The parameter named <paramref name="code"/> for a type, or null when the server does not know it.</summary>
    public SearchParam? Find(string resourceType, string code)
    {
        if (_byType.TryGetValue(resourceType, out var map) && map.TryGetValue(code, out var p))
        {
            return p;
        }

        return CommonParameters.FirstOrDefault(c => c.Code == code);
    }

    /// <summary>The parameters indexed for a type (common ones included).</summary>
    public IEnumerable<SearchParam> For(string resourceType)
    {
        var own = _byType.TryGetValue(resourceType, out var map) ? map.Values : Enumerable.Empty<SearchParam>();
        return own.Concat(CommonParameters.Where(c => c.Expression is not null));
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

    private static List<string> SplitUnion(string expression)
    {
        var parts = new List<string>();
        int depth = 0, start = 0;
        var inString = false;
        for (var i = 0; i < expression.Length; i++)
        {
            var c = expression[i];
            if (c == '\'' && (i == 0 || expression[i - 1] != '\\'))
            {
                inString = !inString;
            }
            else if (!inString && c == '(')
            {
                depth++;
            }
            else if (!inString && c == ')')
            {
                depth--;
            }
            else if (!inString && depth == 0 && c == '|')
            {
                parts.Add(expression[start..i].Trim());
                start = i + 1;
            }
        }

        parts.Add(expression[start..].Trim());
        return parts;
    }
}
