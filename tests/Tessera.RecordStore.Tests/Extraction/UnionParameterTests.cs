using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Search;
using Tessera.RecordStore.Tests.Corpus;

namespace Tessera.RecordStore.Tests.Extraction;

/// <summary>
/// Union parameters (an expression that is only the union of other parameters' expressions) are found from the
/// definitions, are not indexed, and the rows of their parts hold exactly what their own rows held.
/// </summary>
public sealed class UnionParameterTests
{
    [Fact]
    public void The_r4_unions_are_observations_combo_parameters_with_their_parts()
    {
        var unions = SearchParameterRegistry.CoreUnions.ToDictionary(p => $"{p.ResourceType}.{p.Code}", p => string.Join(" + ", p.UnionOf!));

        Assert.Equal(
            new Dictionary<string, string>
            {
                ["Observation.combo-code"] = "code + component-code",
                ["Observation.combo-code-value-concept"] = "code-value-concept + component-code-value-concept",
                ["Observation.combo-code-value-quantity"] = "code-value-quantity + component-code-value-quantity",
                ["Observation.combo-data-absent-reason"] = "data-absent-reason + component-data-absent-reason",
                ["Observation.combo-value-concept"] = "value-concept + component-value-concept",
                ["Observation.combo-value-quantity"] = "value-quantity + component-value-quantity",
            },
            unions);
        // Parameters the store reads by code have rows of their own: the compartment's and $everything's care dates.
        foreach (var (type, codes) in PatientCompartment.Parameters)
        {
            Assert.All(codes, code => Assert.Null(SearchParameterRegistry.Core.Find(type, code)!.UnionOf));
        }

        Assert.All(PatientEverything.CareDates, d => Assert.Null(SearchParameterRegistry.Core.Find(d.Key, d.Value)!.UnionOf));
        foreach (var union in SearchParameterRegistry.CoreUnions)
        {
            foreach (var code in union.UnionOf!)
            {
                var part = SearchParameterRegistry.Core.Find(union.ResourceType, code)!;
                Assert.Null(part.UnionOf);
                Assert.Equal(union.Type, part.Type);
            }
        }
    }

    [Fact]
    public void A_union_is_found_only_when_every_branch_is_another_parameters_whole_expression()
    {
        static SearchParam P(string code, string expression, SearchParamType type = SearchParamType.Token, params CompositeComponent[] components) =>
            new("Basic", code, type, expression, "urn:" + code, [], components.Length == 0 ? null : components);

        var unions = UnionParameters.Find(
        [
            P("a", "Basic.a"),
            P("b", "(Basic.b.where(x = 'p | q'))"),
            P("c", "Basic.c"),
            P("ab", "Basic.a|Basic.b.where(x='p | q')"),
            // A part of another search type is not a part.
            P("ad", "Basic.a | Basic.d"),
            P("d", "Basic.d", SearchParamType.String),
            // The union of a union flattens to the parameters with rows.
            P("abc", "( Basic.a | Basic.b.where(x = 'p | q') ) | Basic.c"),
            // A branch no parameter has on its own.
            P("ae", "Basic.a | Basic.e"),
            // Not a union: a comparison of one.
            P("eq", "Basic.a | Basic.c = 'x'"),
            P("c-x", "Basic.c = 'x'"),
        ]);

        Assert.Equal(["ab", "abc"], unions.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["a", "b"], unions["ab"]);
        Assert.Equal(["a", "b", "c"], unions["abc"]);

        CompositeComponent C(string expression, SearchParamType type = SearchParamType.Token) => new(type, expression, "urn:x");
        var composites = UnionParameters.Find(
        [
            P("x", "Basic", SearchParamType.Composite, C("code"), C("value", SearchParamType.Quantity)),
            P("y", "Basic.part", SearchParamType.Composite, C("code"), C("value", SearchParamType.Quantity)),
            P("xy", "Basic | Basic.part", SearchParamType.Composite, C("code"), C("value", SearchParamType.Quantity)),
            // Other components (a different relative expression, or type) select other tuples.
            P("xy-other", "Basic | Basic.part", SearchParamType.Composite, C("code"), C("other", SearchParamType.Quantity)),
            P("xy-type", "Basic | Basic.part", SearchParamType.Composite, C("code"), C("value", SearchParamType.Number)),
        ]);
        Assert.Equal(["xy"], composites.Keys);
        Assert.Equal(["x", "y"], composites["xy"]);
    }

    [Fact]
    public void Branches_ignore_whitespace_and_enclosing_parentheses_but_not_literals()
    {
        Assert.Equal(["Observation.value as Quantity", "Observation.component.value as Quantity"], UnionParameters.Branches("(Observation.value  as Quantity)|( (Observation.component.value as Quantity) )"));
        Assert.Equal(["a.where(b='x  y')"], UnionParameters.Branches("a.where( b = 'x  y' )"));
        Assert.NotEqual(UnionParameters.Branches("a.where(b = 'x y')"), UnionParameters.Branches("a.where(b = 'xy')"));
        Assert.Null(UnionParameters.Branches("a | b and c"));
        Assert.Equal(["(a|b).c"], UnionParameters.Branches("(a | b).c"));
    }

    [Fact]
    public void Observations_write_no_rows_of_unions_and_their_parts_rows_hold_what_the_unions_rows_held_on_every_example()
    {
        var legacy = SearchParameterRegistry.ForStore();
        legacy.UnionsIndexed = true;
        var now = new ResourceIndexer(SearchParameterRegistry.ForStore());
        var before = new ResourceIndexer(legacy);
        var unions = SearchParameterRegistry.CoreUnions.ToList();
        var compared = 0;
        var fromLaterParts = 0;
        var problems = new List<string>();
        foreach (var (name, resource) in ExampleCorpus.Parsed(ExampleCorpus.All.Where(e => e.Json.Contains("\"Observation\"", StringComparison.Ordinal))))
        {
            // Observations on their own, and in bundles (the lab reports' results).
            IEnumerable<Observation> observations = resource is Bundle bundle ? bundle.Entry.Select(e => e.Resource).OfType<Observation>() : resource is Observation o ? [o] : [];
            foreach (var observation in observations)
            {
                compared++;
                problems.AddRange(Compare(name, before.Extract(observation), now.Extract(observation), unions, ref fromLaterParts));
            }
        }

        Assert.True(compared > 100, $"only {compared} Observation examples");
        // Components' values are only in the later parts: reading the first part alone would miss them.
        Assert.True(fromLaterParts > 20, $"only {fromLaterParts} unions with values from their later parts");
        Assert.True(problems.Count == 0, string.Join("\n", problems.Take(20)));
    }

    private static List<string> Compare(string name, IndexValues before, IndexValues now, List<SearchParam> unions, ref int fromLaterParts)
    {
        var problems = new List<string>();
        var old = Rows(before);
        var current = Rows(now);
        // Today's rows are yesterday's without the unions' own rows.
        var kept = old.Where(r => !unions.Any(u => Facts(u, [r]).Count > 0));
        if (!current.OrderBy(r => r.ToString(), StringComparer.Ordinal).SequenceEqual(kept.OrderBy(r => r.ToString(), StringComparer.Ordinal)))
        {
            problems.Add($"{name}: rows other than the unions' changed");
        }

        foreach (var union in unions)
        {
            var own = Facts(union, old);
            var parts = union.UnionOf!.Select(code => Facts(union with { Code = code }, old)).ToList();
            if (!own.SetEquals(parts.SelectMany(p => p)))
            {
                problems.Add($"{name} {union.Code}: own {string.Join("; ", own.Take(3))}; parts {string.Join("; ", parts.SelectMany(p => p).Take(3))}");
            }

            if (parts.Skip(1).Any(p => p.Except(parts[0]).Any()))
            {
                fromLaterParts++;
            }
        }

        return problems;
    }

    /// <summary>One index row: its table, the parameter name it is filed under, and its values.</summary>
    internal sealed record Row(char Table, string Name, string Values);

    internal static List<Row> Rows(IndexValues v) =>
    [
        .. v.Strings.Select(r => new Row('s', r.Param, $"{r.Norm}|{r.Exact}")),
        .. v.Tokens.Select(r => new Row('t', r.Param, $"{r.System}|{r.Code}|{r.Text}")),
        .. v.Dates.Select(r => new Row('d', r.Param, $"{r.Low}|{r.High}")),
        .. v.Numbers.Select(r => new Row('n', r.Param, $"{r.Low}|{r.High}")),
        .. v.Quantities.Select(r => new Row('q', r.Param, $"{r.System}|{r.Code}|{r.Low}|{r.High}")),
        .. v.References.Select(r => new Row('r', r.Param, $"{r.TargetType}|{r.TargetId}|{r.TargetUrl}")),
        .. v.Uris.Select(r => new Row('u', r.Param, r.Value)),
    ];

    /// <summary>
    /// What the rows of <paramref name="param"/> say, with its code taken out: a row per value (with its kind suffix,
    /// e.g. :ucum) for a plain parameter; a whole tuple (its components' rows together, whatever its number) for a composite.
    /// </summary>
    private static HashSet<string> Facts(SearchParam param, IEnumerable<Row> rows)
    {
        if (param.Components is null)
        {
            return [.. rows.Where(r => r.Name == param.Code || r.Name.StartsWith(param.Code + ":", StringComparison.Ordinal)).Select(r => $"{r.Table} {r.Name[param.Code.Length..]} {r.Values}")];
        }

        return
        [
            .. rows.Where(r => r.Name.StartsWith(param.Code + "$", StringComparison.Ordinal))
                .GroupBy(r => r.Name[(r.Name.LastIndexOf('#') + 1)..])
                .Select(tuple => string.Join(", ", tuple.Select(r => $"{r.Table} {r.Name[param.Code.Length..r.Name.LastIndexOf('#')]} {r.Values}").Order(StringComparer.Ordinal))),
        ];
    }
}
