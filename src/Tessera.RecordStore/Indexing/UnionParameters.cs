using System.Text;
using Hl7.Fhir.Model;

namespace Tessera.RecordStore.Indexing;

/// <summary>
/// Finds the parameters of one resource type whose expression is only the union of other parameters' whole
/// expressions, of the same search type (R4's <c>combo-code</c> is <c>code</c> | <c>component-code</c>;
/// <c>combo-code-value-quantity</c> is <c>code-value-quantity</c> | <c>component-code-value-quantity</c>, composites
/// with the same components). Such a union selects exactly the values its parts select, so its index rows would
/// repeat theirs: it is not indexed, and a search on it is a search on the rows of any of its parts.
/// </summary>
/// <remarks>
/// Only R4 core parameters are looked at. A custom SearchParameter can neither take a core parameter's code nor
/// change what one selects (see <c>CustomSearchParameters</c>), so the parts a union relies on are fixed; a custom
/// parameter is always indexed under its own code, whatever its expression.
/// </remarks>
internal static class UnionParameters
{
    /// <summary>The unions among <paramref name="parameters"/> (all of one resource type), by code, with the codes of their parts.</summary>
    public static Dictionary<string, IReadOnlyList<string>> Find(IEnumerable<SearchParam> parameters)
    {
        var candidates = parameters
            .Where(p => p.Expression is not null && !p.IsCommon && p.Type != SearchParamType.Special)
            .Select(p => (Param: p, Branches: Branches(p.Expression!)))
            .Where(c => c.Branches is not null)
            .Select(c => (c.Param, Branches: c.Branches!))
            // Smaller first, so that whether a possible part is itself a union is known when it is offered as one.
            .OrderBy(c => c.Branches.Count).ThenBy(c => c.Param.Code, StringComparer.Ordinal)
            .ToList();

        var unions = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (param, branches) in candidates.Where(c => c.Branches.Count >= 2))
        {
            // A part must have rows of its own (not be a union itself) and select nothing the union does not.
            var parts = candidates
                .Where(q => q.Branches.Count < branches.Count && !unions.ContainsKey(q.Param.Code) && SameKind(param, q.Param) && q.Branches.All(branches.Contains))
                .OrderByDescending(q => q.Branches.Count).ThenBy(q => q.Param.Code, StringComparer.Ordinal)
                .ToList();
            if (Cover(branches, parts) is { } cover)
            {
                unions[param.Code] = cover;
            }
        }

        return unions;
    }

    /// <summary>The fewest parts (largest first) whose branches together are exactly <paramref name="branches"/>, in the union's order; null when they cannot be.</summary>
    private static List<string>? Cover(List<string> branches, List<(SearchParam Param, List<string> Branches)> parts)
    {
        var covered = new HashSet<string>(StringComparer.Ordinal);
        var chosen = new List<(SearchParam Param, List<string> Branches)>();
        foreach (var part in parts)
        {
            if (part.Branches.Any(b => !covered.Contains(b)))
            {
                chosen.Add(part);
                covered.UnionWith(part.Branches);
            }
        }

        if (covered.Count != branches.Count)
        {
            return null;
        }

        // A part taken early may be covered by later ones together: it adds nothing and is left out.
        for (var i = 0; i < chosen.Count; i++)
        {
            var others = chosen.Where((_, j) => j != i).SelectMany(c => c.Branches).ToHashSet(StringComparer.Ordinal);
            if (chosen[i].Branches.All(others.Contains))
            {
                chosen.RemoveAt(i--);
            }
        }

        return [.. chosen.OrderBy(c => c.Branches.Min(branches.IndexOf)).Select(c => c.Param.Code)];
    }

    /// <summary>Whether rows of <paramref name="part"/> are rows <paramref name="union"/> would have: the same search type, and for composites the same components.</summary>
    private static bool SameKind(SearchParam union, SearchParam part)
    {
        if (part.Code == union.Code || part.Type != union.Type)
        {
            return false;
        }

        if (union.Components is null || part.Components is null)
        {
            return union.Components is null && part.Components is null;
        }

        return union.Components.Count == part.Components.Count
            && union.Components.Zip(part.Components).All(c => c.First.Type == c.Second.Type && Normalise(c.First.Expression) == Normalise(c.Second.Expression));
    }

    /// <summary>
    /// The branches of an expression's top-level union, each without enclosing parentheses or insignificant
    /// whitespace, nested unions flattened; null when a branch holds an operator that binds more loosely than
    /// <c>|</c> (<c>a | b = c</c> is a comparison of the union, not a union).
    /// </summary>
    internal static List<string>? Branches(string expression)
    {
        var result = new List<string>();
        foreach (var part in SearchParameterRegistry.SplitUnion(expression))
        {
            var branch = StripParentheses(part);
            if (SearchParameterRegistry.SplitUnion(branch).Count > 1)
            {
                if (Branches(branch) is not { } nested)
                {
                    return null;
                }

                result.AddRange(nested);
                continue;
            }

            var normal = Normalise(branch);
            if (normal.Length == 0 || LooseOperator(normal))
            {
                return null;
            }

            if (!result.Contains(normal))
            {
                result.Add(normal);
            }
        }

        return result;
    }

    private static string StripParentheses(string expression)
    {
        var e = expression.Trim();
        while (e.Length >= 2 && e[0] == '(' && e[^1] == ')' && ClosingParenthesis(e) == e.Length - 1)
        {
            e = e[1..^1].Trim();
        }

        return e;
    }

    /// <summary>Where the parenthesis that opens <paramref name="e"/> closes (outside string literals), or -1.</summary>
    private static int ClosingParenthesis(string e) =>
        SearchParameterRegistry.OutsideLiterals(e).Where(c => c.Depth == 0 && e[c.Index] == ')').Select(c => c.Index).DefaultIfEmpty(-1).First();

    /// <summary>Whitespace outside string literals collapsed, and dropped where it does not separate two words.</summary>
    internal static string Normalise(string expression)
    {
        var e = StripParentheses(expression);
        var outside = SearchParameterRegistry.OutsideLiterals(e).Select(c => c.Index).ToHashSet();
        var sb = new StringBuilder(e.Length);
        var pendingSpace = false;
        for (var i = 0; i < e.Length; i++)
        {
            var c = e[i];
            if (char.IsWhiteSpace(c) && outside.Contains(i))
            {
                pendingSpace = true;
                continue;
            }

            if (pendingSpace && sb.Length > 0 && IsWord(sb[^1]) && IsWord(c))
            {
                sb.Append(' ');
            }

            pendingSpace = false;
            sb.Append(c);
        }

        return sb.ToString();

        static bool IsWord(char c) => char.IsLetterOrDigit(c) || c is '_' or '`';
    }

    /// <summary>Whether a normalised branch has, outside parentheses and literals, an operator binding more loosely than <c>|</c>.</summary>
    private static bool LooseOperator(string branch)
    {
        var top = string.Concat(SearchParameterRegistry.OutsideLiterals(branch).Where(c => c.Depth == 0).Select(c => branch[c.Index]));
        return top.IndexOfAny(['=', '<', '>', '~']) >= 0
            || top.Split(' ', '(', ')').Any(word => word is "and" or "or" or "xor" or "implies" or "in" or "contains");
    }
}
