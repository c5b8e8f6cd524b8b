using System.Collections;
using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;

namespace Tessera.RecordStore.Indexing;

/// <summary>
/// Evaluates the simple FHIRPath expressions that nine in ten search parameters use — unions of member paths, each
/// optionally ending in <c>as T</c>, <c>.as(T)</c>, <c>.ofType(T)</c> or <c>.where(resolve() is T)</c> — straight
/// over the model's property getters. The general engine walks a node tree and dispatches every step dynamically;
/// on these expressions it gives the same values (checked over the FHIR R4 examples) at many times the cost.
/// Any other expression is left to the engine.
/// </summary>
internal static partial class SimplePaths
{
    private static readonly ConcurrentDictionary<string, Func<Resource, List<Base>>?> Compiled = new(StringComparer.Ordinal);

    [GeneratedRegex(@"^(?<root>[A-Z][A-Za-z]*)(?:\.(?<step>[a-z][A-Za-z0-9]*|where\([a-z][A-Za-z0-9]*\s*=\s*'[^'\\]*'\)))+(?:\s+as\s+(?<as>[A-Za-z]+)|\.as\((?<as>[A-Za-z]+)\)|\.ofType\((?<as>[A-Za-z]+)\)|\.where\(resolve\(\)\s+is\s+(?<target>[A-Z][A-Za-z]*)\))?$")]
    private static partial Regex PathPattern();

    /// <summary>A cast in parentheses followed by more steps: <c>(Observation.value as CodeableConcept).text</c>.</summary>
    [GeneratedRegex(@"^\((?<inner>[^()]+)\)(?:\.(?<after>[a-z][A-Za-z0-9]*))+$")]
    private static partial Regex CastThenPattern();

    /// <summary>A step that keeps the items whose member equals a string: <c>where(system='email')</c>.</summary>
    [GeneratedRegex(@"^where\((?<member>[a-z][A-Za-z0-9]*)\s*=\s*'(?<literal>[^']*)'\)$")]
    private static partial Regex WhereEqualsPattern();

    private static readonly ConcurrentDictionary<string, Func<Base, List<Base>>?> CompiledRelative = new(StringComparer.Ordinal);

    /// <summary>A fast evaluator for the expression, or null when it is not one of the simple forms.</summary>
    public static Func<Resource, List<Base>>? For(string expression) => Compiled.GetOrAdd(expression, Compile);

    /// <summary>
    /// A fast evaluator for an expression relative to an element — a composite's component, such as <c>code</c> or
    /// <c>value.as(Quantity)</c> — or null when it is not one of the simple forms (or needs the resource, as resolve() does).
    /// </summary>
    public static Func<Base, List<Base>>? ForRelative(string expression) => CompiledRelative.GetOrAdd(expression, e =>
    {
        var plans = Plans(e, "Element.");
        if (plans is null || plans.Any(p => p.Target is not null))
        {
            return null;
        }

        return start =>
        {
            var result = new List<Base>();
            foreach (var plan in plans)
            {
                plan.Walk(start, null, result);
            }

            return result;
        };
    });

    private static readonly ConcurrentDictionary<(string, string), bool> SingleValued = new();

    /// <summary>
    /// Whether a parameter's expression gives at most one value on a resource of the type: exactly one part of its
    /// union applies to the type, and every step of that part is an element of the model that does not repeat.
    /// Anything else (the engine's expressions, choice elements, unions over one type) counts as possibly many.
    /// </summary>
    public static bool IsSingleValued(string? expression, string resourceType) =>
        expression is not null && SingleValued.GetOrAdd((expression, resourceType), key =>
        {
            var applicable = Plans(key.Item1, string.Empty)?.Where(p => p.Root == key.Item2 || p.Root is "Resource" or "DomainResource").ToList();
            if (applicable is not [var plan])
            {
                return false;
            }

            if (plan.MemberPath is not { } steps)
            {
                return false;
            }

            var mapping = ModelInfo.ModelInspector.FindClassMapping(key.Item2);
            foreach (var step in steps)
            {
                var property = mapping?.FindMappedElementByName(step);
                if (property is null || property.IsCollection || property.Choice != Hl7.Fhir.Introspection.ChoiceType.None)
                {
                    return false;
                }

                mapping = ModelInfo.ModelInspector.FindOrImportClassMapping(property.ImplementingType);
            }

            return true;
        });

    private static Func<Resource, List<Base>>? Compile(string expression)
    {
        if (Plans(expression, string.Empty) is not { } plans)
        {
            return null;
        }

        return resource =>
        {
            var result = new List<Base>();
            foreach (var plan in plans)
            {
                plan.Collect(resource, result);
            }

            return result;
        };
    }

    /// <summary>The path of each part of a union, or null when a part is not a simple path; <paramref name="prefix"/> goes before each part.</summary>
    private static List<Plan>? Plans(string expression, string prefix)
    {
        var plans = new List<Plan>();
        foreach (var part in SearchParameterRegistry.SplitUnion(expression))
        {
            var text = Unwrap(part);
            string[] after = [];
            if (CastThenPattern().Match(text) is { Success: true } castThen)
            {
                text = castThen.Groups["inner"].Value.Trim();
                after = [.. castThen.Groups["after"].Captures.Select(c => c.Value)];
            }

            var match = PathPattern().Match(prefix + text);
            if (!match.Success || (after.Length > 0 && (!match.Groups["as"].Success || match.Groups["target"].Success)))
            {
                return null;
            }

            Type? filter = null;
            if (match.Groups["as"].Success && (filter = ModelInfo.ModelInspector.GetTypeForFhirType(match.Groups["as"].Value)) is null)
            {
                return null;
            }

            var target = match.Groups["target"].Success ? match.Groups["target"].Value : null;
            plans.Add(new Plan(match.Groups["root"].Value, [.. match.Groups["step"].Captures.Select(c => Step.Parse(c.Value))], filter, target, [.. after.Select(Step.Parse)]));
        }

        return plans.Count == 0 ? null : plans;
    }

    /// <summary>One step of a path: a member, or (with <see cref="Literal"/>) a filter keeping the items whose member equals it.</summary>
    private sealed record Step(string Name, string? Literal)
    {
        public static Step Parse(string text) =>
            WhereEqualsPattern().Match(text) is { Success: true } where ? new Step(where.Groups["member"].Value, where.Groups["literal"].Value) : new Step(text, null);

        public List<Base> Apply(List<Base> current)
        {
            var next = new List<Base>();
            foreach (var item in current)
            {
                if (Literal is null)
                {
                    Members(item, Name, next);
                }
                else if (item.TryGetValue(Name, out var value) && value is PrimitiveType { JsonValue: string text } primitive
                    && primitive is not (Instant or Date or FhirDateTime or Time or Base64Binary or Integer64) && text == Literal)
                {
                    // FHIRPath's = between a string-like primitive (a code, say) and a string: equal when the value is that string.
                    next.Add(item);
                }
            }

            return next;
        }
    }

    private sealed record Plan(string Root, Step[] Steps, Type? Filter, string? Target, Step[] After)
    {
        /// <summary>The member names of a path made of members only, or null (filters, casts and later steps are not).</summary>
        public string[]? MemberPath => After.Length == 0 && Filter is null && Steps.All(s => s.Literal is null) ? [.. Steps.Select(s => s.Name)] : null;

        public void Collect(Resource resource, List<Base> result)
        {
            if (Root != resource.TypeName && Root is not ("Resource" or "DomainResource"))
            {
                return;
            }

            Walk(resource, resource, result);
        }

        /// <summary>Follows the steps from <paramref name="start"/>; <paramref name="resource"/> resolves contained targets.</summary>
        public void Walk(Base start, Resource? resource, List<Base> result)
        {
            var current = new List<Base> { start };
            foreach (var step in Steps)
            {
                current = step.Apply(current);
                if (current.Count == 0)
                {
                    return;
                }
            }

            var selected = new List<Base>();
            foreach (var value in current)
            {
                if (Filter is not null && !Filter.IsInstanceOfType(value))
                {
                    continue;
                }

                if (Target is not null && (resource is null || value is not ResourceReference { Reference: { } reference } || TargetType(resource, reference) != Target))
                {
                    continue;
                }

                selected.Add(value);
            }

            foreach (var step in After)
            {
                selected = step.Apply(selected);
            }

            result.AddRange(selected);
        }
    }

    /// <summary>The type a reference points to: a contained resource by its local id, else the type its text names.</summary>
    private static string? TargetType(Resource resource, string reference) =>
        reference.StartsWith('#')
            ? (resource as DomainResource)?.Contained.FirstOrDefault(c => c.Id == reference[1..])?.TypeName
            : ResourceIndexer.SplitReference(reference).Type;

    /// <summary>The values of one member of an element, as FHIRPath navigates it (lists flattened, empty primitives skipped).</summary>
    private static void Members(Base item, string name, List<Base> into)
    {
        if (!item.TryGetValue(name, out var value))
        {
            return;
        }

        switch (value)
        {
            case Base single:
                Add(single, into);
                return;
            case IEnumerable many:
                foreach (var element in many)
                {
                    if (element is Base b)
                    {
                        Add(b, into);
                    }
                }

                return;
        }
    }

    private static void Add(Base value, List<Base> into)
    {
        // A primitive with neither value nor extensions is not there for FHIRPath.
        if (value is PrimitiveType { JsonValue: null } primitive && !primitive.HasExtensions() && primitive.ElementId is null)
        {
            return;
        }

        into.Add(value);
    }

    /// <summary>Removes parentheses around a whole part: <c>(Observation.value as Quantity)</c>.</summary>
    private static string Unwrap(string part)
    {
        part = part.Trim();
        while (part.Length > 1 && part[0] == '(' && part[^1] == ')' && Balanced(part[1..^1]))
        {
            part = part[1..^1].Trim();
        }

        return part;
    }

    private static bool Balanced(string text)
    {
        var depth = 0;
        foreach (var c in text)
        {
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            if (depth < 0)
            {
                return false;
            }
        }

        return depth == 0;
    }
}
