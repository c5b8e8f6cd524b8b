using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;

namespace Tessera.RecordStore.Search;

/// <summary>A parsed search criterion; the planner turns these into SQL.</summary>
internal abstract record SearchCriterion;

/// <summary>Values of one parameter, any of which may match (comma means OR).</summary>
internal sealed record ParamCriterion(SearchParam Param, string? Modifier, IReadOnlyList<string> Values) : SearchCriterion;

/// <summary>A composite parameter: tuples (one per comma-separated value), each component searched by its own type.</summary>
internal sealed record CompositeCriterion(SearchParam Param, IReadOnlyList<IReadOnlyList<string>> Tuples) : SearchCriterion;

internal sealed record MissingCriterion(SearchParam Param, bool Missing) : SearchCriterion;

/// <summary>A chained parameter: resources whose reference points at a target matching <see cref="Inner"/>.</summary>
internal sealed record ChainCriterion(SearchParam Reference, IReadOnlyList<string> TargetTypes, SearchCriterion Inner) : SearchCriterion;

/// <summary>Criteria that must all hold on one resource: the chains through one single-valued reference, merged (see <see cref="SearchSqlBuilder.MergeChains"/>).</summary>
internal sealed record AllCriterion(IReadOnlyList<SearchCriterion> Parts) : SearchCriterion;

/// <summary>Reverse chaining (_has): resources referenced by a <see cref="SourceType"/> matching <see cref="Inner"/>.</summary>
internal sealed record HasCriterion(string SourceType, SearchParam Reference, SearchCriterion Inner) : SearchCriterion;

/// <summary>_list: resources that are items of one of the List resources named.</summary>
internal sealed record ListCriterion(IReadOnlyList<string> ListIds) : SearchCriterion;

internal sealed record SortKey(SearchParam Param, bool Descending);

/// <summary>An _include or _revinclude: through <see cref="Param"/>, or through every reference when it is null (<c>*</c>).</summary>
internal sealed record IncludeSpec(string SourceType, SearchParam? Param, string? TargetType, bool Iterate, bool Reverse);

/// <summary>
/// The search as parsed from the query string: criteria (ANDed), result controls, and what was applied,
/// so that the self link shows only parameters the server used.
/// </summary>
internal sealed class SearchQuery
{
    public const int DefaultCount = 20;
    public const int MaxCount = 1000;

    public required string ResourceType { get; init; }

    public List<SearchCriterion> Criteria { get; } = [];

    public List<KeyValuePair<string, string>> Applied { get; } = [];

    public List<string> Ignored { get; } = [];

    public int Count { get; set; } = DefaultCount;

    public List<SortKey> Sort { get; } = [];

    public List<IncludeSpec> Includes { get; } = [];

    public string? Cursor { get; set; }

    public string Total { get; set; } = "accurate";

    public string? Summary { get; set; }

    public string[]? Elements { get; set; }

    /// <summary>Restricts the search to one patient's compartment (Patient/123/Observation).</summary>
    public string? CompartmentPatient { get; set; }

    private static readonly HashSet<string> ResultParameters = ["_count", "_sort", "_include", "_revinclude", "_total", "_summary", "_elements", "_cursor", "_format", "_pretty", "_contained", "_containedType"];

    public static SearchQuery Parse(string resourceType, IEnumerable<KeyValuePair<string, string>> parameters, SearchParameterRegistry registry, bool strict)
    {
        var query = new SearchQuery { ResourceType = resourceType };
        foreach (var (rawKey, value) in parameters)
        {
            var key = rawKey.Trim();
            if (key.Length == 0)
            {
                continue;
            }

            // _include:iterate / _revinclude:iterate (R4; :recurse in earlier versions) follow the included resources' references too.
            if (key is "_include:iterate" or "_include:recurse" or "_revinclude:iterate" or "_revinclude:recurse")
            {
                query.Includes.Add(query.ParseInclude(key[..key.IndexOf(':', StringComparison.Ordinal)], value, registry, iterate: true));
                query.Applied.Add(new(key, value));
                continue;
            }

            if (ResultParameters.Contains(key))
            {
                query.ApplyResultParameter(key, value, registry);
                continue;
            }

            var criterion = ParseCriterion(resourceType, key, value, registry, out var problem);
            if (criterion is null)
            {
                if (strict)
                {
                    throw FhirException.BadRequest($"{problem} (Prefer: handling=strict).", key, OperationOutcome.IssueType.NotSupported);
                }

                query.Ignored.Add($"{key}: {problem}");
                continue;
            }

            query.Criteria.Add(criterion);
            query.Applied.Add(new(key, value));
        }

        return query;
    }

    private void ApplyResultParameter(string key, string value, SearchParameterRegistry registry)
    {
        switch (key)
        {
            case "_count":
                if (!int.TryParse(value, out var count) || count < 0)
                {
                    throw FhirException.BadRequest($"_count must be a whole number of 0 or more, not '{value}'.", "_count");
                }

                Count = Math.Min(count, MaxCount);
                Applied.Add(new(key, Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                return;
            case "_cursor":
                Cursor = value;
                return;
            case "_sort":
                foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                {
                    var desc = part.StartsWith('-');
                    var name = desc ? part[1..] : part;
                    var p = registry.Find(ResourceType, name) ?? throw FhirException.BadRequest($"Cannot sort {ResourceType} by '{name}': it is not a search parameter of {ResourceType}.", "_sort");
                    if (p.Type is SearchParamType.Composite or SearchParamType.Reference)
                    {
                        throw FhirException.BadRequest($"Sorting by {p.Type.ToString().ToLowerInvariant()} parameter '{name}' is not supported.", "_sort");
                    }

                    Sort.Add(new SortKey(p, desc));
                }

                Applied.Add(new(key, value));
                return;
            case "_include":
            case "_revinclude":
                Includes.Add(ParseInclude(key, value, registry));
                Applied.Add(new(key, value));
                return;
            case "_total":
                if (value is not ("none" or "estimate" or "accurate"))
                {
                    throw FhirException.BadRequest($"_total must be none, estimate or accurate, not '{value}'.", "_total");
                }

                Total = value;
                Applied.Add(new(key, value));
                return;
            case "_summary":
                if (value is not ("true" or "text" or "data" or "count" or "false"))
                {
                    throw FhirException.BadRequest($"_summary must be true, text, data, count or false, not '{value}'.", "_summary");
                }

                Summary = value == "false" ? null : value;
                Applied.Add(new(key, value));
                return;
            case "_elements":
                Elements = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                Applied.Add(new(key, value));
                return;
            default:
                return;
        }
    }

    private IncludeSpec ParseInclude(string key, string value, SearchParameterRegistry registry, bool iterate = false)
    {
        var reverse = key == "_revinclude";
        var spec = value;
        if (spec.EndsWith(":iterate", StringComparison.Ordinal) || spec.EndsWith(":recurse", StringComparison.Ordinal))
        {
            iterate = true;
        }

        var parts = spec.Split(':');
        if (parts.Length < 2)
        {
            throw FhirException.BadRequest($"{key} must be written Type:parameter[:targetType], not '{value}'.", key);
        }

        var source = parts[0];
        var param = parts[1];
        var target = parts.Length > 2 && parts[2] is not ("iterate" or "recurse") ? parts[2] : null;
        if (!ModelInfo.IsKnownResource(source))
        {
            throw FhirException.BadRequest($"{key}: '{source}' is not a FHIR resource type.", key);
        }

        SearchParam? reference = null;
        if (param != "*" && (reference = registry.Find(source, param)) is not { Type: SearchParamType.Reference })
        {
            throw FhirException.BadRequest($"{key}: '{param}' is not a reference search parameter of {source}.", key);
        }

        return new IncludeSpec(source, reference, target, iterate, reverse);
    }

    internal static SearchCriterion? ParseCriterion(string type, string key, string value, SearchParameterRegistry registry, out string problem)
    {
        problem = string.Empty;
        if (key.StartsWith("_has:", StringComparison.Ordinal))
        {
            // _has:Observation:patient:code=1234 (the inner part may itself be _has: or chained).
            var parts = key.Split(':', 4);
            if (parts.Length < 4 || !ModelInfo.IsKnownResource(parts[1]))
            {
                throw FhirException.BadRequest($"_has must be written _has:Type:reference:parameter, not '{key}'.", key);
            }

            if (registry.Find(parts[1], parts[2]) is not { Type: SearchParamType.Reference } reference)
            {
                throw FhirException.BadRequest($"_has: '{parts[2]}' is not a reference parameter of {parts[1]}.", key);
            }

            var inner = ParseCriterion(parts[1], parts[3], value, registry, out problem);
            return inner is null ? null : new HasCriterion(parts[1], reference, inner);
        }

        if (key == "_list")
        {
            var lists = SplitValues(value);
            if (lists.Any(l => !Resources.ResourceWriter.IsValidId(l)))
            {
                throw FhirException.BadRequest($"_list takes the ids of List resources on this server (functional lists such as $current-problems are not supported), not '{value}'.", key);
            }

            return new ListCriterion(lists);
        }

        var dot = key.IndexOf('.', StringComparison.Ordinal);
        var head = dot >= 0 ? key[..dot] : key;
        var colon = head.IndexOf(':', StringComparison.Ordinal);
        var name = colon >= 0 ? head[..colon] : head;
        var modifier = colon >= 0 ? head[(colon + 1)..] : null;
        var param = registry.Find(type, name);
        if (param is null)
        {
            problem = $"'{name}' is not a search parameter of {type}";
            return null;
        }

        if (dot >= 0)
        {
            if (param.Type != SearchParamType.Reference)
            {
                throw FhirException.BadRequest($"Cannot chain through '{name}': it is not a reference parameter.", key);
            }

            var targets = modifier is not null ? [modifier] : param.Targets.ToList();
            var rest = key[(dot + 1)..];
            var viable = new List<string>();
            SearchCriterion? innerCriterion = null;
            foreach (var t in targets)
            {
                var candidate = ParseCriterion(t, rest, value, registry, out var innerProblem);
                if (candidate is not null)
                {
                    viable.Add(t);
                    innerCriterion ??= candidate;
                }
                else
                {
                    problem = innerProblem;
                }
            }

            if (innerCriterion is null)
            {
                problem = $"chained parameter '{rest}' is not known on the targets of {type}.{name}";
                return null;
            }

            return new ChainCriterion(param, viable, innerCriterion);
        }

        if (modifier == "missing")
        {
            return value switch
            {
                "true" => new MissingCriterion(param, true),
                "false" => new MissingCriterion(param, false),
                _ => throw FhirException.BadRequest($":missing takes true or false, not '{value}'.", key),
            };
        }

        ValidateModifier(param, modifier, key);
        if (param.Components is { } components)
        {
            return ParseComposite(param, components, key, value);
        }

        var values = SplitValues(value);
        if (values.Count == 0 || values.Any(v => v.Length == 0))
        {
            throw FhirException.BadRequest($"Search parameter '{key}' has an empty value.", key);
        }

        foreach (var v in values)
        {
            ValidateValue(param.Type, param.Code, v, key);
            // A token is code, system|code, |code or system|: a second bar is an error, not part of the code
            // (:of-type takes three parts; :text, :in and :not-in take text and canonical URLs, where a bar is data).
            if (param.Type == SearchParamType.Token && modifier is not ("of-type" or "text" or "in" or "not-in") && UnescapedBars(v) > 1)
            {
                throw FhirException.BadRequest($"'{v}' is not a valid token for '{key}': write code, system|code, |code or system| (a bar inside a code is escaped as \\|).", key);
            }
        }

        return new ParamCriterion(param, modifier, values);
    }

    /// <summary>A composite's value: tuples separated by commas, components by <c>$</c> (<c>\$</c> and <c>\,</c> escape them).</summary>
    private static CompositeCriterion ParseComposite(SearchParam param, IReadOnlyList<CompositeComponent> components, string key, string value)
    {
        var tuples = new List<IReadOnlyList<string>>();
        foreach (var raw in SplitUnescaped(value, ','))
        {
            var parts = SplitUnescaped(raw, '$');
            if (parts.Count != components.Count || parts.Any(p => p.Length == 0))
            {
                var example = string.Join("$", components.Select(c => c.Type.ToString().ToLowerInvariant()));
                throw FhirException.BadRequest($"'{raw}' is not a valid value for composite parameter '{key}': give {components.Count} components separated by '$' ({example}), none of them empty.", key);
            }

            var unescaped = parts.Select(p => SplitValues(p)[0]).ToList();
            for (var i = 0; i < components.Count; i++)
            {
                ValidateValue(components[i].Type, param.Code, unescaped[i], key);
            }

            tuples.Add(unescaped);
        }

        return new CompositeCriterion(param, tuples);
    }

    /// <summary>Splits on a separator not escaped with a backslash, keeping the escapes for the next stage.</summary>
    private static List<string> SplitUnescaped(string value, char separator)
    {
        var result = new List<string>();
        var start = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\')
            {
                i++;
            }
            else if (value[i] == separator)
            {
                result.Add(value[start..i]);
                start = i + 1;
            }
        }

        result.Add(value[start..]);
        return result;
    }

    private static void ValidateModifier(SearchParam param, string? modifier, string key)
    {
        if (modifier is null)
        {
            return;
        }

        var ok = param.Type switch
        {
            SearchParamType.String => modifier is "exact" or "contains",
            SearchParamType.Token => modifier is "not" or "text" or "of-type" or "above" or "below" or "in" or "not-in",
            SearchParamType.Reference => modifier == "identifier" || ModelInfo.IsKnownResource(modifier),
            SearchParamType.Uri => modifier is "above" or "below",
            _ => false,
        };
        if (!ok)
        {
            throw FhirException.BadRequest($"Modifier ':{modifier}' is not supported on {param.Type.ToString().ToLowerInvariant()} parameter '{param.Code}'.", key, OperationOutcome.IssueType.NotSupported);
        }
    }

    private static void ValidateValue(SearchParamType type, string code, string value, string key)
    {
        switch (type)
        {
            case SearchParamType.Date:
                var (_, date) = Prefix(value);
                if (!FhirDateRange.TryParse(date, out _))
                {
                    throw FhirException.BadRequest($"'{value}' is not a valid date for '{key}': use YYYY, YYYY-MM, YYYY-MM-DD or a full dateTime, optionally prefixed (eq, ne, gt, lt, ge, le, sa, eb, ap).", key);
                }

                break;
            case SearchParamType.Number:
            case SearchParamType.Quantity:
                var (_, rest) = Prefix(value);
                var number = rest.Split('|')[0];
                if (!decimal.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _))
                {
                    throw FhirException.BadRequest($"'{value}' is not a valid {type.ToString().ToLowerInvariant()} for '{key}'.", key);
                }

                break;
            case SearchParamType.Special when code == "near":
                _ = Near(value, key);
                break;
        }
    }

    /// <summary>Default radius of <c>near</c> when the value gives none.</summary>
    public const double DefaultNearKm = 5;

    /// <summary>Parses near = latitude|longitude|distance|units (distance and units optional; km by default).</summary>
    internal static (double Latitude, double Longitude, double Kilometres) Near(string value, string key)
    {
        var parts = value.Split('|');
        var ci = System.Globalization.CultureInfo.InvariantCulture;
        var style = System.Globalization.NumberStyles.Float;
        if (parts.Length is < 2 or > 4
            || !double.TryParse(parts[0], style, ci, out var lat) || lat is < -90 or > 90
            || !double.TryParse(parts[1], style, ci, out var lon) || lon is < -180 or > 180)
        {
            throw FhirException.BadRequest($"'{value}' is not a valid '{key}': write latitude|longitude|distance|units, e.g. 51.5074|-0.1278|10|km (units km, m, mi or [mi_i]).", key);
        }

        var km = DefaultNearKm;
        if (parts.Length > 2 && parts[2].Length > 0)
        {
            if (!double.TryParse(parts[2], style, ci, out var distance) || distance < 0
                || Indexing.GeoPoint.Kilometres(distance, parts.Length > 3 ? parts[3] : null) is not { } converted)
            {
                throw FhirException.BadRequest($"'{value}' has no valid distance for '{key}': give a number of 0 or more and the units km, m, mi or [mi_i].", key);
            }

            km = converted;
        }

        return (lat, lon, km);
    }

    /// <summary>Splits an ordered value's prefix ("ge2020") from its value.</summary>
    internal static (string Prefix, string Value) Prefix(string value)
    {
        if (value.Length > 2 && char.IsAsciiLetterLower(value[0]) && char.IsAsciiLetterLower(value[1]))
        {
            var p = value[..2];
            if (p is "eq" or "ne" or "gt" or "lt" or "ge" or "le" or "sa" or "eb" or "ap")
            {
                return (p, value[2..]);
            }
        }

        return ("eq", value);
    }

    /// <summary>Splits on unescaped commas and removes the escapes \, \| \$ \\.</summary>
    internal static List<string> SplitValues(string value)
    {
        var result = new List<string>();
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\\' && i + 1 < value.Length && value[i + 1] is ',' or '$' or '\\')
            {
                sb.Append(value[++i]);
            }
            else if (c == ',')
            {
                result.Add(sb.ToString());
                sb.Clear();
            }
            else
            {
                sb.Append(c);
            }
        }

        result.Add(sb.ToString());
        return result;
    }

    /// <summary>Splits a token "system|code" on its unescaped bar; null system when no bar.</summary>
    internal static (string? System, string? Code, bool HasBar) SplitToken(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 1 < value.Length)
            {
                i++;
                continue;
            }

            if (value[i] == '|')
            {
                return (value[..i], Unescape(value[(i + 1)..]), true);
            }
        }

        return (null, Unescape(value), false);
    }

    private static int UnescapedBars(string value)
    {
        var bars = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\')
            {
                i++;
            }
            else if (value[i] == '|')
            {
                bars++;
            }
        }

        return bars;
    }

    private static string Unescape(string v) => v.Replace("\\|", "|", StringComparison.Ordinal);
}
