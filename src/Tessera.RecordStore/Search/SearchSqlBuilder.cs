using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;

namespace Tessera.RecordStore.Search;

/// <summary>
/// Translates parsed criteria into SQL over the index tables. Each criterion becomes an EXISTS over the
/// index of its type, correlated with the resource alias; chains and _has nest the same translation.
/// </summary>
/// <param name="patternOperators">
/// PostgreSQL: the string index holds <c>value_norm</c> with <c>text_pattern_ops</c> (byte order, whatever the
/// database's collation), which serves the pattern comparison operators <c>~&gt;=~</c> and <c>~&lt;~</c> but not
/// <c>&gt;=</c> and <c>&lt;</c>: starts-with ranges on it must use them, or the index is read for the whole parameter.
/// </param>
internal sealed class SearchSqlBuilder(string baseUrl, bool patternOperators = false)
{
    private readonly List<(string Name, object? Value)> _parameters = [];
    private int _aliases;

    public IReadOnlyList<(string Name, object? Value)> Parameters => _parameters;

    public string Param(object? value)
    {
        var name = "s" + _parameters.Count.ToString(CultureInfo.InvariantCulture);
        _parameters.Add((name, value));
        return "@" + name;
    }

    /// <summary>The WHERE clause (without the keyword) selecting current, live resources of a type matching all criteria.</summary>
    public string Where(string alias, string resourceType, IEnumerable<SearchCriterion> criteria)
    {
        var parts = new List<string> { $"{alias}.resource_type = {Param(resourceType)}", $"{alias}.deleted = 0" };
        parts.AddRange(MergeChains(resourceType, criteria).Select(c => Criterion(alias, c)));
        return string.Join(" AND ", parts);
    }

    /// <summary>
    /// Chains through a reference that holds at most one target on this type (<c>Observation.patient</c>) all test
    /// that one target, so they are merged into one chain whose target must meet every one of them. The planner can
    /// then find the targets from all the criteria together; apart, it finds them from one and probes the others for
    /// every resource referring to a match, which grows with the region. Chains through a reference that may hold
    /// several targets stay apart, as the specification has them: each may be met by a different target.
    /// </summary>
    public static List<SearchCriterion> MergeChains(string resourceType, IEnumerable<SearchCriterion> criteria)
    {
        var result = new List<SearchCriterion>();
        var positions = new Dictionary<(string, string), int>();
        foreach (var criterion in criteria)
        {
            if (criterion is ChainCriterion chain && SimplePaths.IsSingleValued(chain.Reference.Expression, resourceType))
            {
                var key = (chain.Reference.Code, string.Join("|", chain.TargetTypes));
                if (positions.TryGetValue(key, out var at))
                {
                    var first = (ChainCriterion)result[at];
                    result[at] = first with { Inner = new AllCriterion([.. Parts(first.Inner), chain.Inner]) };
                    continue;
                }

                positions[key] = result.Count;
            }

            result.Add(criterion);
        }

        // Within a merged chain to one type, that type's own chains merge the same way (patient.organization.name & .type).
        for (var i = 0; i < result.Count; i++)
        {
            if (result[i] is ChainCriterion { TargetTypes: [var target], Inner: AllCriterion all } merged)
            {
                result[i] = merged with { Inner = new AllCriterion(MergeChains(target, all.Parts)) };
            }
        }

        return result;

        static IEnumerable<SearchCriterion> Parts(SearchCriterion c) => c is AllCriterion all ? all.Parts : [c];
    }

    public string Criterion(string alias, SearchCriterion criterion) => criterion switch
    {
        ParamCriterion p => ParamSql(alias, p),
        // A union's tuple is one of its parts' tuples: each part is tried in turn.
        CompositeCriterion c => "(" + string.Join(" OR ", c.Tuples.SelectMany(t => c.Param.IndexCodes.Select(code => CompositeSql(alias, c.Param.Components!, code, t)))) + ")",
        MissingCriterion { Param.Components: not null } m => CompositeMissingSql(alias, m),
        MissingCriterion m => MissingSql(alias, m),
        ChainCriterion c => ChainSql(alias, c),
        HasCriterion h => HasSql(alias, h),
        CodeSetCriterion c => Exists("idx_token", alias, c.Param, CodeSetSql(c.Codes), negate: c.Negate),
        ListCriterion l => ListSql(alias, l),
        AllCriterion a => "(" + string.Join(" AND ", a.Parts.Select(p => Criterion(alias, p))) + ")",
        _ => throw new InvalidOperationException("Unknown criterion " + criterion.GetType().Name),
    };

    private string NextAlias(string prefix) => prefix + (_aliases++).ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Whether the resource has a row of <paramref name="param"/> (its rows named with <paramref name="suffix"/>) that
    /// meets the condition. A union's rows are its parts' (see <see cref="SearchParam.UnionOf"/>), so the rows of any
    /// part count: a union has a matching value when one of its parts has, and (negated) none when none of them has.
    /// </summary>
    private string Exists(string table, string alias, SearchParam param, string condition, bool negate = false, string suffix = "")
    {
        var x = NextAlias("x");
        var sql = $"EXISTS (SELECT 1 FROM {table} {x} WHERE {x}.resource_type = {alias}.resource_type AND {x}.id = {alias}.id AND {ParamIs($"{x}.param", param, suffix)} AND ({condition.Replace("$x", x, StringComparison.Ordinal)}))";
        return negate ? "NOT " + sql : sql;
    }

    /// <summary>The condition that an index row's parameter column names a row of <paramref name="param"/> (of any of a union's parts).</summary>
    public string ParamIs(string column, SearchParam param, string suffix = "") => param.IndexCodes switch
    {
        [var code] => $"{column} = {Param(code + suffix)}",
        var codes => $"{column} IN ({string.Join(", ", codes.Select(c => Param(c + suffix)))})",
    };

    private string MissingSql(string alias, MissingCriterion m)
    {
        if (m.Param.Code == "_id" || m.Param.Code == "_lastUpdated")
        {
            return m.Missing ? "1 = 0" : "1 = 1";
        }

        var table = TableFor(m.Param.Type);
        return Exists(table, alias, m.Param, "1 = 1", negate: m.Missing);
    }

    /// <summary>
    /// One tuple of a composite, in the rows of <paramref name="code"/>: the rows of its components must belong to the
    /// same tuple of the same resource (rows <c>code$i#n</c> share their <c>#n</c>), and each matches its own component's value.
    /// </summary>
    private string CompositeSql(string alias, IReadOnlyList<CompositeComponent> components, string code, IReadOnlyList<string> tuple)
    {
        var first = ResourceIndexer.CompositeComponentCode(code, 0);
        var c = NextAlias("k");
        var from = new System.Text.StringBuilder($"{TableFor(components[0].Type)} {c}0");
        var (firstSuffix, firstCondition) = ComponentSql(components[0].Type, tuple[0]);
        var firstName = first + firstSuffix + "#";
        var conditions = new List<string>
        {
            $"{c}0.resource_type = {alias}.resource_type",
            $"{c}0.id = {alias}.id",
            $"substr({c}0.param, 1, {Param(firstName.Length)}) = {Param(firstName)}",
            firstCondition.Replace("$x", c + "0", StringComparison.Ordinal),
        };
        var tupleOf = $"substr({c}0.param, {Param(firstName.Length)})";
        for (var i = 1; i < components.Count; i++)
        {
            var ci = c + i.ToString(CultureInfo.InvariantCulture);
            var (suffix, condition) = ComponentSql(components[i].Type, tuple[i]);
            from.Append($" JOIN {TableFor(components[i].Type)} {ci} ON {ci}.resource_type = {c}0.resource_type AND {ci}.id = {c}0.id")
                .Append($" AND {ci}.param = {Param(ResourceIndexer.CompositeComponentCode(code, i) + suffix)} || {tupleOf}");
            conditions.Add(condition.Replace("$x", ci, StringComparison.Ordinal));
        }

        return $"EXISTS (SELECT 1 FROM {from} WHERE {string.Join(" AND ", conditions.Select(x => "(" + x + ")"))})";
    }

    /// <summary>
    /// The condition on one index row ($x) for a value of a parameter of this type, without modifiers, and the
    /// suffix of the rows it applies to (quantities in UCUM are compared in canonical units).
    /// </summary>
    private (string Suffix, string Condition) ComponentSql(SearchParamType type, string value) => type switch
    {
        SearchParamType.String => (string.Empty, StringSql(null, value)),
        SearchParamType.Token => (string.Empty, TokenSql(value)),
        SearchParamType.Date => (string.Empty, RangeSql(value, "$x.low", "$x.high")),
        SearchParamType.Number => (string.Empty, NumberSql(value)),
        SearchParamType.Quantity => QuantitySql(value),
        SearchParamType.Reference => (string.Empty, ReferenceSql(value, null)),
        SearchParamType.Uri => (string.Empty, UriSql(null, value)),
        _ => throw FhirException.NotSupported($"Composite components of type {type.ToString().ToLowerInvariant()} are not supported."),
    };

    /// <summary>:missing on a composite: whether the resource has any whole tuple (of any of a union's parts).</summary>
    private string CompositeMissingSql(string alias, MissingCriterion m)
    {
        var table = TableFor(m.Param.Components![0].Type);
        var any = m.Param.IndexCodes.Select(code =>
        {
            var first = ResourceIndexer.CompositeComponentCode(code, 0) + "#";
            var x = NextAlias("x");
            return $"EXISTS (SELECT 1 FROM {table} {x} WHERE {x}.resource_type = {alias}.resource_type AND {x}.id = {alias}.id AND substr({x}.param, 1, {Param(first.Length)}) = {Param(first)})";
        });
        var sql = string.Join(" OR ", any);
        return m.Missing ? $"NOT ({sql})" : $"({sql})";
    }

    private string ParamSql(string alias, ParamCriterion p)
    {
        if (p.Param.Code == "_id")
        {
            var ids = string.Join(", ", p.Values.Select(v => Param(v)));
            return p.Modifier == "not" ? $"{alias}.id NOT IN ({ids})" : $"{alias}.id IN ({ids})";
        }

        if (p.Param.Code == "_lastUpdated")
        {
            return "(" + string.Join(" OR ", p.Values.Select(v => RangeSql(v, $"{alias}.last_updated", $"{alias}.last_updated"))) + ")";
        }

        switch (p.Param.Type)
        {
            case SearchParamType.String:
                return Exists("idx_string", alias, p.Param, Or(p.Values, v => StringSql(p.Modifier, v)));
            case SearchParamType.Token:
                if (p.Modifier == "not")
                {
                    return Exists("idx_token", alias, p.Param, Or(p.Values, TokenSql), negate: true);
                }

                if (p.Modifier == "text")
                {
                    return Exists("idx_token", alias, p.Param, Or(p.Values, v => PrefixSql("$x.text_norm", TextNormaliser.Normalise(v))));
                }

                if (p.Modifier == "of-type")
                {
                    return Exists("idx_token", alias, p.Param, Or(p.Values, OfTypeSql), suffix: ":of-type");
                }

                if (p.Modifier is "in" or "not-in" or "above" or "below")
                {
                    throw new InvalidOperationException($"The :{p.Modifier} criterion on '{p.Param.Code}' must be resolved by Terminology before SQL is built.");
                }

                return Exists("idx_token", alias, p.Param, Or(p.Values, TokenSql));
            case SearchParamType.Date:
                return Exists("idx_date", alias, p.Param, Or(p.Values, v => RangeSql(v, "$x.low", "$x.high")));
            case SearchParamType.Number:
                return Exists("idx_number", alias, p.Param, Or(p.Values, v => NumberSql(v)));
            case SearchParamType.Quantity:
                return "(" + string.Join(" OR ", p.Values.Select(v => QuantitySql(v)).Select(q => Exists("idx_quantity", alias, p.Param, q.Condition, suffix: q.Suffix))) + ")";
            case SearchParamType.Reference:
                if (p.Modifier == "identifier")
                {
                    return Exists("idx_token", alias, p.Param, Or(p.Values, TokenSql), suffix: ":identifier");
                }

                return Exists("idx_reference", alias, p.Param, Or(p.Values, v => ReferenceSql(v, p.Modifier)));
            case SearchParamType.Uri:
                return Exists("idx_uri", alias, p.Param, Or(p.Values, v => UriSql(p.Modifier, v)));
            case SearchParamType.Special when p.Param.Code == "near":
                return "(" + string.Join(" OR ", p.Values.Select(v => NearSql(alias, v))) + ")";
            default:
                throw FhirException.NotSupported($"Search by {p.Param.Type.ToString().ToLowerInvariant()} parameter '{p.Param.Code}' is not supported.");
        }
    }

    private static string Or(IEnumerable<string> values, Func<string, string> one) => string.Join(" OR ", values.Select(v => "(" + one(v) + ")"));

    private string StringSql(string? modifier, string value) => modifier switch
    {
        "exact" => $"$x.value_exact = {Param(value)}",
        "contains" => $"$x.value_norm LIKE {Param("%" + EscapeLike(TextNormaliser.Normalise(value)) + "%")} ESCAPE '\\'",
        _ => patternOperators ? PatternPrefixSql("$x.value_norm", TextNormaliser.Normalise(value)) : PrefixSql("$x.value_norm", TextNormaliser.Normalise(value)),
    };

    private string PatternPrefixSql(string column, string prefix) =>
        $"{column} ~>=~ {Param(prefix)} AND {column} ~<~ {Param(prefix + "\uffff")}";

    /// <summary>Starts-with as a range, so both databases use the index regardless of collation.</summary>
    private string PrefixSql(string column, string prefix) =>
        $"{column} >= {Param(prefix)} AND {column} < {Param(prefix + "\uffff")}";

    private string TokenSql(string value)
    {
        var (system, code, hasBar) = SearchQuery.SplitToken(value);
        if (!hasBar)
        {
            return $"$x.code = {Param(code)}";
        }

        if (string.IsNullOrEmpty(system))
        {
            return $"$x.code = {Param(code)} AND $x.system IS NULL";
        }

        if (string.IsNullOrEmpty(code))
        {
            return $"$x.system = {Param(system)}";
        }

        return $"$x.code = {Param(code)} AND $x.system = {Param(system)}";
    }

    private string OfTypeSql(string value)
    {
        var parts = value.Split('|');
        if (parts.Length != 3)
        {
            throw FhirException.BadRequest($":of-type takes system|code|value, not '{value}'.");
        }

        return $"$x.system = {Param(parts[0])} AND $x.code = {Param(parts[1] + "|" + parts[2])}";
    }

    private string RangeSql(string value, string lowColumn, string highColumn)
    {
        var (prefix, text) = SearchQuery.Prefix(value);
        FhirDateRange.TryParse(text, out var q);
        return Ordered(prefix, lowColumn, highColumn, q.Low, q.High, (q.High - q.Low) / 10 + 86_400_000L);
    }

    private string NumberSql(string value)
    {
        var (prefix, text) = SearchQuery.Prefix(value);
        var number = decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        var (low, high) = ResourceIndexer.PrecisionRange(number, text);
        return OrderedNumber(prefix, (double)number, low, high);
    }

    /// <summary>
    /// value|system|code (or value||code, or value). With the UCUM system and a unit that has a canonical form, the
    /// value and its implicit range are converted and compared with the canonical rows (<c>:ucum</c>), so any
    /// commensurable unit matches; otherwise the unit is matched as given (code, or unit when there was no code).
    /// </summary>
    private (string Suffix, string Condition) QuantitySql(string value)
    {
        var (prefix, text) = SearchQuery.Prefix(value);
        var parts = text.Split('|');
        var number = decimal.Parse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture);
        var (low, high) = ResourceIndexer.PrecisionRange(number, parts[0]);
        var system = parts.Length >= 3 ? parts[1] : string.Empty;
        var code = parts.Length >= 3 ? parts[2] : parts.Length == 2 ? parts[1] : string.Empty;
        if (Ucum.Canonical(system, code) is { } canonical)
        {
            var f = canonical.Factor;
            var sql = OrderedNumber(prefix, (double)number * f, low * f, high * f);
            return (Ucum.CanonicalSuffix, $"{sql} AND $x.code = {Param(canonical.Unit)}");
        }

        var condition = OrderedNumber(prefix, (double)number, low, high);
        if (system.Length > 0)
        {
            condition += $" AND $x.system = {Param(system)}";
        }

        if (code.Length > 0)
        {
            condition += $" AND $x.code = {Param(code)}";
        }

        return (string.Empty, condition);
    }

    /// <summary>Prefix semantics for ranges: the target's range [low, high] against the search range [ql, qh].</summary>
    private string Ordered(string prefix, string low, string high, long ql, long qh, long approx) => prefix switch
    {
        "eq" => $"{low} >= {Param(ql)} AND {high} <= {Param(qh)}",
        "ne" => $"NOT ({low} >= {Param(ql)} AND {high} <= {Param(qh)})",
        "gt" => $"{high} > {Param(qh)}",
        "lt" => $"{low} < {Param(ql)}",
        // ge is eq or gt, le is eq or lt: (low >= ql AND high <= qh) OR high > qh simplifies to low >= ql OR high > qh.
        "ge" => $"({low} >= {Param(ql)} OR {high} > {Param(qh)})",
        "le" => $"({high} <= {Param(qh)} OR {low} < {Param(ql)})",
        "sa" => $"{low} > {Param(qh)}",
        "eb" => $"{high} < {Param(ql)}",
        "ap" => $"{low} <= {Param(qh + approx)} AND {high} >= {Param(ql - approx)}",
        _ => throw FhirException.BadRequest($"Unknown prefix '{prefix}'."),
    };

    private string OrderedNumber(string prefix, double value, double ql, double qh)
    {
        var mid = "(($x.low + $x.high) / 2)";
        return prefix switch
        {
            "eq" => $"{mid} >= {Param(ql)} AND {mid} < {Param(qh)}",
            "ne" => $"NOT ({mid} >= {Param(ql)} AND {mid} < {Param(qh)})",
            "gt" or "sa" => $"{mid} > {Param(value)}",
            "lt" or "eb" => $"{mid} < {Param(value)}",
            "ge" => $"{mid} >= {Param(value)}",
            "le" => $"{mid} <= {Param(value)}",
            "ap" => $"{mid} >= {Param(value - Math.Abs(value) * 0.1)} AND {mid} <= {Param(value + Math.Abs(value) * 0.1)}",
            _ => throw FhirException.BadRequest($"Unknown prefix '{prefix}'."),
        };
    }

    private string ReferenceSql(string value, string? typeModifier)
    {
        var reference = value;
        var root = baseUrl.TrimEnd('/') + "/";
        if (reference.StartsWith(root, StringComparison.Ordinal))
        {
            reference = reference[root.Length..];
        }

        var (type, id) = ResourceIndexer.SplitReference(reference);
        if (type is not null && id is not null)
        {
            if (typeModifier is not null && typeModifier != type)
            {
                return "1 = 0";
            }

            return reference.Contains("://", StringComparison.Ordinal)
                ? $"$x.target_url = {Param(value)}"
                : reference.Length == value.Length
                    ? $"$x.target_type = {Param(type)} AND $x.target_id = {Param(id)} AND {Local(root)}"
                    // By this server's full URL: the references written so (kept by URL only) as well as relative ones.
                    : $"(($x.target_type = {Param(type)} AND $x.target_id = {Param(id)} AND {Local(root)}) OR $x.target_url = {Param(value)})";
        }

        if (reference.Contains(':', StringComparison.Ordinal))
        {
            return $"$x.target_url = {Param(reference)}";
        }

        var sql = $"$x.target_id = {Param(reference)}";
        if (typeModifier is not null)
        {
            sql += $" AND $x.target_type = {Param(typeModifier)}";
        }

        return sql + " AND " + Local(root);
    }

    /// <summary>
    /// The reference row is to this server: relative, or absolute under this server's base. An absolute URL of
    /// another server ends in a Type/id too, but names another server's resource (rows written before absolute URLs
    /// were kept by URL only still carry its Type/id).
    /// </summary>
    private string Local(string root) =>
        $"($x.target_url NOT LIKE '%://%' OR substr($x.target_url, 1, {Param(root.Length)}) = {Param(root)})";

    /// <summary>
    /// uri: exact, or by segments. <c>:below</c> finds the URI and those under it (<c>.../fhir</c> finds
    /// <c>.../fhir/ValueSet/a</c> and <c>.../fhir#batch</c>, but <c>.../alpha</c> not <c>.../alpha-beta</c>); <c>:above</c>
    /// the URI and those it is under. A URI is under another when it goes on after it with '/', '#' or '?' (or the other
    /// ends in '/'). Both compare exact prefixes (substr), never patterns: a stored URI's characters are not wildcards,
    /// and case counts on both databases (the LIKE only narrows the rows an index gives).
    /// </summary>
    private string UriSql(string? modifier, string value)
    {
        var v = Param(value);
        switch (modifier)
        {
            case "below":
                var n = Param(value.Length);
                var next = value.EndsWith('/') ? string.Empty : $" AND substr($x.value, {n} + 1, 1) IN ('/', '#', '?')";
                return $"($x.value = {v} OR ($x.value LIKE {Param(EscapeLike(value) + "%")} ESCAPE '\\' AND substr($x.value, 1, {n}) = {v}{next}))";
            case "above":
                return $"($x.value = {v} OR (substr({v}, 1, length($x.value)) = $x.value AND ($x.value LIKE '%/' OR substr({v}, length($x.value) + 1, 1) IN ('/', '#', '?'))))";
            default:
                return $"$x.value = {v}";
        }
    }

    /// <summary>Codes of a resolved set, grouped by system; whole systems match any code; exclusions win.</summary>
    private string CodeSetSql(CodeSet codes)
    {
        string Matches(IEnumerable<(string System, string? Code)> pairs)
        {
            var terms = new List<string>();
            foreach (var group in pairs.Distinct().GroupBy(c => c.System, StringComparer.Ordinal))
            {
                var system = Param(group.Key);
                terms.Add(group.Any(c => c.Code is null)
                    ? $"$x.system = {system}"
                    : $"($x.system = {system} AND $x.code IN ({string.Join(", ", group.Select(c => Param(c.Code)))}))");
            }

            return terms.Count == 0 ? "1 = 0" : string.Join(" OR ", terms);
        }

        var sql = "(" + Matches(codes.Include) + ")";
        return codes.Exclude.Count == 0 ? sql : $"{sql} AND NOT ({Matches(codes.Exclude)})";
    }

    /// <summary>near: the stored unit vector's dot product with the searched point's is at least cos(distance / R).</summary>
    private string NearSql(string alias, string value)
    {
        var (lat, lon, km) = SearchQuery.Near(value, "near");
        var (x, y, z) = GeoPoint.UnitVector(lat, lon);
        var n = NextAlias("n");
        return $"EXISTS (SELECT 1 FROM idx_number {n}x JOIN idx_number {n}y ON {n}y.resource_type = {n}x.resource_type AND {n}y.id = {n}x.id AND {n}y.param = 'near.y' "
            + $"JOIN idx_number {n}z ON {n}z.resource_type = {n}x.resource_type AND {n}z.id = {n}x.id AND {n}z.param = 'near.z' "
            + $"WHERE {n}x.resource_type = {alias}.resource_type AND {n}x.id = {alias}.id AND {n}x.param = 'near.x' "
            + $"AND {n}x.low * {Param(x)} + {n}y.low * {Param(y)} + {n}z.low * {Param(z)} >= {Param(GeoPoint.MinimumDot(km))})";
    }

    /// <summary>_list: resources that are an item of one of the named List resources.</summary>
    private string ListSql(string alias, ListCriterion list)
    {
        var l = NextAlias("l");
        var ids = string.Join(", ", list.ListIds.Select(id => Param(id)));
        return $"EXISTS (SELECT 1 FROM idx_reference {l} JOIN resource {l}r ON {l}r.resource_type = {l}.resource_type AND {l}r.id = {l}.id AND {l}r.deleted = 0 WHERE {l}.resource_type = 'List' AND {l}.id IN ({ids}) AND {l}.param = 'item' AND {l}.target_type = {alias}.resource_type AND {l}.target_id = {alias}.id)";
    }

    private string ChainSql(string alias, ChainCriterion chain)
    {
        var target = NextAlias("c");
        var typeList = string.Join(", ", chain.TargetTypes.Select(t => Param(t)));
        var inner = Criterion(target, chain.Inner);
        // The caller's row filter applies to the chained resource too: a chain must not test what they may not see.
        var condition = $"EXISTS (SELECT 1 FROM resource {target} WHERE {target}.resource_type IN ({typeList}) AND {target}.deleted = 0 AND {target}.resource_type = $x.target_type AND {target}.id = $x.target_id AND {inner}{FhirStore.FilterSql(target, Param, chain.TargetTypes.Count == 1 ? chain.TargetTypes[0] : null)})";
        return Exists("idx_reference", alias, chain.Reference, condition);
    }

    private string HasSql(string alias, HasCriterion has)
    {
        var source = NextAlias("h");
        var x = NextAlias("x");
        var inner = Criterion(source, has.Inner);
        // Likewise _has: only resources the caller may see can make a resource match.
        return $"EXISTS (SELECT 1 FROM idx_reference {x} JOIN resource {source} ON {source}.resource_type = {x}.resource_type AND {source}.id = {x}.id WHERE {x}.resource_type = {Param(has.SourceType)} AND {ParamIs($"{x}.param", has.Reference)} AND {x}.target_type = {alias}.resource_type AND {x}.target_id = {alias}.id AND {source}.deleted = 0 AND {inner}{FhirStore.FilterSql(source, Param, has.SourceType)})";
    }

    internal static string TableFor(SearchParamType type) => type switch
    {
        SearchParamType.String => "idx_string",
        SearchParamType.Token => "idx_token",
        SearchParamType.Date => "idx_date",
        SearchParamType.Number => "idx_number",
        SearchParamType.Quantity => "idx_quantity",
        SearchParamType.Reference => "idx_reference",
        SearchParamType.Uri => "idx_uri",
        _ => throw FhirException.NotSupported($"Parameters of type {type} are not supported."),
    };

    private static string EscapeLike(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
