using System.Collections.Concurrent;
using System.Globalization;
using Hl7.Fhir.FhirPath;
using Hl7.Fhir.Model;
using Hl7.Fhir.Utility;
using Hl7.FhirPath;
using Hl7.FhirPath.Expressions;

namespace Tessera.RecordStore.Indexing;

/// <summary>
/// Extracts search index values from a resource by evaluating each parameter's FHIRPath expression with
/// the Firely engine, then flattening the FHIR data types into rows of the index tables.
/// </summary>
internal sealed class ResourceIndexer(SearchParameterRegistry registry)
{
    internal static readonly FhirEvaluationContext Context = new() { ElementResolver = ResolveStub };

    private static readonly ConcurrentDictionary<string, Type?> ResourceTypes = new(StringComparer.Ordinal);

    // Every parameter's expression is compiled once and kept: the engine's own cache holds 500, fewer than the
    // core definitions a busy store evaluates, and recompiling costs far more than evaluating.
    private static readonly FhirPathCompiler Compiler = new(new SymbolTable().AddStandardFP().AddFhirExtensions());

    private static readonly ConcurrentDictionary<string, Lazy<CompiledExpression?>> Compiled = new(StringComparer.Ordinal);

    public IndexValues Extract(Resource resource) => Extract(resource, fastComposites: true);

    /// <summary>Extracts the index values; <paramref name="fastComposites"/> false leaves every composite to the engine (for comparing).</summary>
    internal IndexValues Extract(Resource resource, bool fastComposites)
    {
        var values = new IndexValues();
        // One node tree for the resource, shared by the expressions the general engine evaluates (most take the
        // simple path and need none).
        PocoNode? tree = null;
        PocoNode Node() => tree ??= resource.ToPocoNode();
        foreach (var param in registry.For(resource.TypeName))
        {
            // A union's values are its parts' values, indexed under their codes (see UnionParameters).
            if (param.Expression is null || param.UnionOf is not null)
            {
                continue;
            }

            if (param.Components is { } components)
            {
                if (!fastComposites || !AddSimpleComposite(values, param.Code, param.Expression, components, resource))
                {
                    AddComposite(values, param.Code, param.Expression, components, Node());
                }

                continue;
            }

            var expression = param.IsCommon ? $"{resource.TypeName}.{param.Expression}" : param.Expression;
            foreach (var value in SimplePaths.For(expression) is { } simple ? simple(resource) : Evaluate(expression, Node(), Context))
            {
                Add(values, param.Type, new IndexKey(param.Code), value);
            }
        }

        return values;
    }

    /// <summary>
    /// The values an expression selects, or none when the engine cannot evaluate it on this instance (a definition
    /// that does not fit the data indexes nothing rather than refusing the write).
    /// </summary>
    internal static List<Base> Evaluate(string expression, PocoNode node, FhirEvaluationContext context)
    {
        try
        {
            return Compile(expression) is { } compiled ? [.. compiled(node, context).Select(n => n.Poco).OfType<Base>()] : [];
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or NotSupportedException or Hl7.Fhir.Validation.CodedValidationException)
        {
            return [];
        }
    }

    /// <summary>
    /// A composite: each node the composite's expression selects is one tuple, its components evaluated relative
    /// to that node, so that the code and value of one Observation.component stay together. Each component's rows
    /// go to its type's table under <c>code$i#n</c> (component i of tuple n); a tuple with a component that has no
    /// value cannot match any search and is not indexed.
    /// </summary>
    private static void AddComposite(IndexValues values, string code, string expression, IReadOnlyList<CompositeComponent> components, PocoNode resource)
    {
        var context = new FhirEvaluationContext { ElementResolver = ResolveStub, Resource = resource, RootResource = resource };
        var tuple = 0;
        foreach (var selected in EvaluateNodes(expression, resource, context))
        {
            var parts = new List<Base>[components.Count];
            for (var i = 0; i < components.Count; i++)
            {
                parts[i] = [.. Evaluate(components[i].Expression, selected, context)];
            }

            if (AddTuple(values, code, components, parts, tuple))
            {
                tuple++;
            }
        }
    }

    /// <summary>Adds one tuple's rows under <c>#tuple</c>, unless one of its components has no value; true when added.</summary>
    private static bool AddTuple(IndexValues values, string code, IReadOnlyList<CompositeComponent> components, IReadOnlyList<List<Base>> parts, int tuple)
    {
        if (parts.Any(p => p.Count == 0))
        {
            return false;
        }

        for (var i = 0; i < components.Count; i++)
        {
            var key = new IndexKey(CompositeComponentCode(code, i), "#" + tuple.ToString(CultureInfo.InvariantCulture));
            foreach (var value in parts[i])
            {
                Add(values, components[i].Type, key, value);
            }
        }

        return true;
    }

    /// <summary>
    /// <see cref="AddComposite"/> over the model's getters when the composite's expression is the resource itself or
    /// simple paths, and each component a simple relative path (all of Observation's composites): the same tuples
    /// without building the resource's node tree. False, having added nothing, when any of them is not simple.
    /// </summary>
    private static bool AddSimpleComposite(IndexValues values, string code, string expression, IReadOnlyList<CompositeComponent> components, Resource resource)
    {
        var parts = new Func<Base, List<Base>>[components.Count];
        for (var i = 0; i < components.Count; i++)
        {
            if (SimplePaths.ForRelative(components[i].Expression) is not { } part)
            {
                return false;
            }

            parts[i] = part;
        }

        var selected = new List<Base>();
        foreach (var part in SearchParameterRegistry.SplitUnion(expression))
        {
            if (part.Trim() == resource.TypeName)
            {
                selected.Add(resource);
            }
            else if (SimplePaths.For(part.Trim()) is { } path)
            {
                selected.AddRange(path(resource));
            }
            else
            {
                return false;
            }
        }

        var tuple = 0;
        foreach (var node in selected)
        {
            if (AddTuple(values, code, components, [.. parts.Select(p => p(node))], tuple))
            {
                tuple++;
            }
        }

        return true;
    }

    /// <summary>The index parameter name of a composite's component i (its tuple number follows as #n).</summary>
    internal static string CompositeComponentCode(string code, int component) => code + "$" + component.ToString(CultureInfo.InvariantCulture);

    private static List<PocoNode> EvaluateNodes(string expression, PocoNode node, FhirEvaluationContext context)
    {
        try
        {
            return Compile(expression) is { } compiled ? [.. compiled(node, context).OfType<PocoNode>()] : [];
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or NotSupportedException or Hl7.Fhir.Validation.CodedValidationException)
        {
            return [];
        }
    }

    private static CompiledExpression? Compile(string expression) =>
        Compiled.GetOrAdd(expression, e => new Lazy<CompiledExpression?>(() =>
        {
            try
            {
                return Compiler.Compile(e);
            }
            catch (FormatException)
            {
                // An expression the engine cannot parse indexes nothing rather than refusing writes.
                return null;
            }
        })).Value;

    /// <summary>Why an expression does not compile, or null when it does.</summary>
    internal static string? CompileError(string expression)
    {
        try
        {
            Compiler.Compile(expression);
            return null;
        }
        catch (Exception e) when (e is FormatException or ArgumentException or InvalidOperationException or NotSupportedException or KeyNotFoundException)
        {
            return e.Message;
        }
    }

    /// <summary>The id of the patient whose compartment the resource is in, if any.</summary>
    public static string? PatientKey(Resource resource, IndexValues values)
    {
        if (resource is Patient)
        {
            return resource.Id;
        }

        if (!PatientCompartment.Parameters.TryGetValue(resource.TypeName, out var parameters))
        {
            return null;
        }

        foreach (var p in parameters)
        {
            foreach (var r in values.References)
            {
                if (r.Param == p && r.TargetType == "Patient" && r.TargetId is not null)
                {
                    return r.TargetId;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The name of the index rows of one parameter: its code, then a kind suffix for derived rows
    /// (<c>:identifier</c>, <c>:of-type</c>, <c>:ucum</c>), then the tuple of a composite component (<c>#n</c>).
    /// </summary>
    private readonly record struct IndexKey(string Code, string Tuple = "")
    {
        public string Name(string suffix = "") => Code + suffix + Tuple;
    }

    private static void Add(IndexValues values, SearchParamType type, IndexKey key, Base value)
    {
        switch (type)
        {
            case SearchParamType.String:
                AddStrings(values, key.Name(), value);
                break;
            case SearchParamType.Token:
                AddTokens(values, key, value);
                break;
            case SearchParamType.Date:
                AddDates(values, key.Name(), value);
                break;
            case SearchParamType.Number:
                if (Primitive(value) is { } n && decimal.TryParse(n, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    var (low, high) = PrecisionRange(number, n);
                    values.Numbers.Add((key.Name(), low, high));
                }

                break;
            case SearchParamType.Quantity:
                AddQuantity(values, key, value);
                break;
            case SearchParamType.Reference:
                AddReference(values, key, value);
                break;
            case SearchParamType.Uri:
                if (Primitive(value) is { Length: > 0 } uri)
                {
                    values.Uris.Add((key.Name(), uri));
                }

                break;
            case SearchParamType.Special when key.Code == "near" && value is Location.PositionComponent { Latitude: { } lat, Longitude: { } lon }:
                // The position as a unit vector, so that a distance search is arithmetic in SQL (no trigonometry needed there).
                var (x, y, z) = GeoPoint.UnitVector((double)lat, (double)lon);
                values.Numbers.Add(("near.x", x, x));
                values.Numbers.Add(("near.y", y, y));
                values.Numbers.Add(("near.z", z, z));
                break;
        }
    }

    private static void AddStrings(IndexValues values, string code, Base value)
    {
        void One(string? s)
        {
            if (!string.IsNullOrWhiteSpace(s))
            {
                values.Strings.Add((code, TextNormaliser.Normalise(s), s));
            }
        }

        switch (value)
        {
            case HumanName name:
                One(name.Family);
                foreach (var g in name.Given)
                {
                    One(g);
                }

                foreach (var p in name.Prefix)
                {
                    One(p);
                }

                foreach (var s in name.Suffix)
                {
                    One(s);
                }

                One(name.Text);
                break;
            case Address a:
                foreach (var line in a.Line)
                {
                    One(line);
                }

                One(a.City);
                One(a.District);
                One(a.State);
                One(a.PostalCode);
                One(a.Country);
                One(a.Text);
                break;
            default:
                One(Primitive(value));
                break;
        }
    }

    private static void AddTokens(IndexValues values, IndexKey key, Base value)
    {
        var code = key.Name();
        switch (value)
        {
            case CodeableConcept cc:
                foreach (var c in cc.Coding)
                {
                    values.Tokens.Add((code, c.System, c.Code, Norm(c.Display ?? cc.Text)));
                }

                // :text searches the concept's text as well as the displays: when a coding's display stands in its
                // row's place, the text gets a row of its own (with no code, so only :text and :missing see it).
                if (cc.Text is not null && cc.Coding.All(c => c.Display is not null && c.Display != cc.Text))
                {
                    values.Tokens.Add((code, null, null, Norm(cc.Text)));
                }

                break;
            case Coding c:
                values.Tokens.Add((code, c.System, c.Code, Norm(c.Display)));
                break;
            case Identifier id:
                values.Tokens.Add((code, id.System, id.Value, Norm(id.Type?.Text)));
                if (id.Type is not null)
                {
                    foreach (var t in id.Type.Coding)
                    {
                        // :of-type needs the identifier type and value together.
                        values.Tokens.Add((key.Name(":of-type"), t.System, $"{t.Code}|{id.Value}", null));
                    }
                }

                break;
            case ContactPoint cp:
                values.Tokens.Add((code, null, cp.Value, null));
                break;
            case FhirBoolean b when b.Value is not null:
                values.Tokens.Add((code, null, b.Value.Value ? "true" : "false", null));
                break;
            default:
                if (Primitive(value) is { Length: > 0 } s)
                {
                    values.Tokens.Add((code, SystemOf(value), s, null));
                }

                break;
        }
    }

    private static string? SystemOf(Base value)
    {
        // Enumerated codes carry their code system on the enum literal, read by reflection from its attribute: once
        // per literal (Observation.status is on every Observation written), not on every write.
        var type = value.GetType();
        if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(Code<>))
        {
            return null;
        }

        var property = ValueProperties.GetOrAdd(type, t => t.GetProperty("Value", System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.DeclaredOnly));
        return property?.GetValue(value) is Enum literal ? Systems.GetOrAdd(literal, l => l.GetSystem()) : null;
    }

    private static readonly ConcurrentDictionary<Type, System.Reflection.PropertyInfo?> ValueProperties = new();

    private static readonly ConcurrentDictionary<Enum, string?> Systems = new();

    private static void AddDates(IndexValues values, string code, Base value)
    {
        switch (value)
        {
            case Period p:
                long low = long.MinValue / 2, high = long.MaxValue / 2;
                if (FhirDateRange.TryParse(p.Start, out var s))
                {
                    low = s.Low;
                }

                if (FhirDateRange.TryParse(p.End, out var e))
                {
                    high = e.High;
                }

                if (p.Start is not null || p.End is not null)
                {
                    values.Dates.Add((code, low, high));
                }

                break;
            case Timing t:
                foreach (var ev in t.Event)
                {
                    if (FhirDateRange.TryParse(ev, out var r))
                    {
                        values.Dates.Add((code, r.Low, r.High));
                    }
                }

                break;
            default:
                if (FhirDateRange.TryParse(Primitive(value), out var range))
                {
                    values.Dates.Add((code, range.Low, range.High));
                }

                break;
        }
    }

    private static void AddQuantity(IndexValues values, IndexKey key, Base value)
    {
        var code = key.Name();
        switch (value)
        {
            case Quantity q when q.Value is not null:
                var (low, high) = PrecisionRange(q.Value.Value, q.Value.Value.ToString(CultureInfo.InvariantCulture));
                values.Quantities.Add((code, q.System, q.Code ?? q.Unit, low, high));
                if (Ucum.Canonical(q.System, q.Code) is { } canonical)
                {
                    values.Quantities.Add((key.Name(Ucum.CanonicalSuffix), Ucum.System, canonical.Unit, low * canonical.Factor, high * canonical.Factor));
                }

                break;
            case Money m when m.Value is not null:
                var (ml, mh) = PrecisionRange(m.Value.Value, m.Value.Value.ToString(CultureInfo.InvariantCulture));
                values.Quantities.Add((code, "urn:iso:std:iso:4217", m.Currency?.ToString(), ml, mh));
                break;
            case Hl7.Fhir.Model.Range r:
                if (r.Low?.Value is not null || r.High?.Value is not null)
                {
                    values.Quantities.Add((code, r.Low?.System ?? r.High?.System, r.Low?.Code ?? r.High?.Code, (double)(r.Low?.Value ?? decimal.MinValue), (double)(r.High?.Value ?? decimal.MaxValue)));
                }

                break;
        }
    }

    private static void AddReference(IndexValues values, IndexKey key, Base value)
    {
        var code = key.Name();
        switch (value)
        {
            case ResourceReference rr:
                if (rr.Reference is { Length: > 0 } reference)
                {
                    // An absolute URL names a resource on the server it points at, which may be another: it is kept
                    // by its URL only, so that it never stands for this server's resource of the same Type/id (in a
                    // search, an _include or the patient compartment).
                    var (type, id) = reference.Contains("://", StringComparison.Ordinal) ? (null, null) : SplitReference(reference);
                    values.References.Add((code, type, id, reference));
                }

                if (rr.Identifier is { } ident)
                {
                    values.Tokens.Add((key.Name(":identifier"), ident.System, ident.Value, null));
                }

                break;
            default:
                if (Primitive(value) is { Length: > 0 } canonical)
                {
                    // A canonical (or uri) reference: by url, and as Type/id when it is one ("Questionnaire/gcs"), so both searches find it.
                    var url = canonical.Split('|')[0];
                    var (type, id) = SplitReference(url);
                    values.References.Add((code, type, id, url));
                }

                break;
        }
    }

    /// <summary>Splits "Patient/1", "Patient/1/_history/2" or an absolute URL into type and id.</summary>
    internal static (string? Type, string? Id) SplitReference(string reference)
    {
        if (reference.StartsWith('#') || reference.StartsWith("urn:", StringComparison.Ordinal))
        {
            return (null, null);
        }

        var parts = reference.Split('/');
        var h = Array.IndexOf(parts, "_history");
        if (h >= 0)
        {
            parts = parts[..h];
        }

        if (parts.Length >= 2 && ModelInfo.IsKnownResource(parts[^2]))
        {
            return (parts[^2], parts[^1]);
        }

        return (null, null);
    }

    private static string? Primitive(Base value) => value switch
    {
        PrimitiveType p => p.JsonValue switch
        {
            null => null,
            string s => s,
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            var o => o.ToString(),
        },
        _ => null,
    };

    private static string? Norm(string? text) => text is null ? null : TextNormaliser.Normalise(text);

    /// <summary>
    /// A number's implicit range from its significant digits: 100 covers [99.5, 100.5), 100.0 covers
    /// [99.95, 100.05), and in exponent form 1e2 (one figure) covers [50, 150) and 1.0e2 [95, 105).
    /// </summary>
    internal static (double Low, double High) PrecisionRange(decimal value, string text)
    {
        var e = text.IndexOfAny(['e', 'E']);
        var exponent = e >= 0 && int.TryParse(text[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var x) ? x : 0;
        var mantissa = e >= 0 ? text[..e] : text;
        var dot = mantissa.IndexOf('.', StringComparison.Ordinal);
        var decimals = (dot < 0 ? 0 : mantissa.Length - dot - 1) - exponent;
        var half = 0.5 * Math.Pow(10, -decimals);
        var v = (double)value;
        return (v - half, v + half);
    }

    private static PocoNode ResolveStub(string reference)
    {
        // resolve() in core expressions only asks what type a reference points to; a stub of that type answers it.
        var (type, id) = SplitReference(reference);
        if (type is null)
        {
            return null!;
        }

        var clr = ResourceTypes.GetOrAdd(type, t => ModelInfo.GetTypeForFhirType(t));
        if (clr is null || Activator.CreateInstance(clr) is not Resource stub)
        {
            return null!;
        }

        stub.Id = id;
        return stub.ToPocoNode();
    }
}
