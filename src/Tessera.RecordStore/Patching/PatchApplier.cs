using System.Collections;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hl7.Fhir.FhirPath;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;

namespace Tessera.RecordStore.Patching;

/// <summary>
/// The two patch formats of FHIR R4: JSON Patch (RFC 6902) applied to the stored JSON, and FHIRPath Patch
/// (a Parameters resource) applied to the resource objects. Either way the result is parsed strictly again,
/// so a patch cannot produce an invalid resource.
/// </summary>
internal static class PatchApplier
{
    public static Resource Apply(string currentJson, FhirRequest request)
    {
        if (request.JsonPatch is not null)
        {
            return ApplyJsonPatch(currentJson, request.JsonPatch);
        }

        if (request.Resource is Parameters parameters)
        {
            return ApplyFhirPathPatch(FhirSerialization.ParseStored(currentJson), parameters);
        }

        throw FhirException.BadRequest("A patch body is a JSON Patch document (Content-Type application/json-patch+json) or a FHIRPath Patch Parameters resource.", null, OperationOutcome.IssueType.NotSupported);
    }

    public static Resource ApplyJsonPatch(string currentJson, string patchJson)
    {
        JsonArray operations;
        try
        {
            operations = JsonNode.Parse(patchJson) as JsonArray ?? throw FhirException.BadRequest("A JSON Patch document is a JSON array of operations.");
        }
        catch (JsonException e)
        {
            throw FhirException.BadRequest($"The JSON Patch document is not valid JSON: {e.Message}");
        }

        var document = JsonNode.Parse(currentJson)!;
        for (var i = 0; i < operations.Count; i++)
        {
            if (operations[i] is not JsonObject op)
            {
                throw FhirException.BadRequest($"JSON Patch operation {i} is not an object.", $"/{i}");
            }

            document = ApplyOperation(document, op, i);
        }

        return FhirSerialization.ParseJson(document.ToJsonString());
    }

    private static JsonNode ApplyOperation(JsonNode document, JsonObject op, int index)
    {
        var name = Text(op, "op", index);
        var path = Text(op, "path", index);
        switch (name)
        {
            case "add":
                return Add(document, path, Required(op, "value", index).DeepClone(), index);
            case "remove":
                Remove(document, path, index);
                return document;
            case "replace":
                Remove(document, path, index);
                return Add(document, path, Required(op, "value", index).DeepClone(), index);
            case "move":
                {
                    var from = Text(op, "from", index);
                    var value = Get(document, from, index).DeepClone();
                    Remove(document, from, index);
                    return Add(document, path, value, index);
                }

            case "copy":
                {
                    var from = Text(op, "from", index);
                    return Add(document, path, Get(document, from, index).DeepClone(), index);
                }

            case "test":
                if (!JsonNode.DeepEquals(Get(document, path, index), Required(op, "value", index)))
                {
                    throw FhirException.Unprocessable($"JSON Patch test {index} failed: the value at {path} differs.", path);
                }

                return document;
            default:
                throw FhirException.BadRequest($"'{name}' is not a JSON Patch operation (add, remove, replace, move, copy, test).", $"/{index}/op");
        }
    }

    private static string Text(JsonObject op, string member, int index) =>
        op[member] is JsonValue value && value.TryGetValue<string>(out var text)
            ? text
            : throw FhirException.BadRequest($"JSON Patch operation {index} needs '{member}' as a string.", $"/{index}/{member}");

    private static JsonNode Required(JsonObject op, string member, int index) =>
        op[member] ?? throw FhirException.BadRequest($"JSON Patch operation {index} has no '{member}'.", $"/{index}/{member}");

    private static string[] Tokens(string pointer) =>
        pointer.Length == 0 ? [] : pointer.TrimStart('/').Split('/').Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToArray();

    private static JsonNode Get(JsonNode document, string pointer, int index)
    {
        var node = document;
        foreach (var token in Tokens(pointer))
        {
            node = node switch
            {
                JsonObject o when o[token] is { } child => child,
                JsonArray a when int.TryParse(token, out var i) && i >= 0 && i < a.Count && a[i] is { } item => item,
                _ => throw FhirException.Unprocessable($"JSON Patch operation {index}: nothing at {pointer}.", pointer),
            };
        }

        return node;
    }

    private static JsonNode Add(JsonNode document, string pointer, JsonNode value, int index)
    {
        var tokens = Tokens(pointer);
        if (tokens.Length == 0)
        {
            return value;
        }

        var parentTokens = tokens[..^1];
        var parent = parentTokens.Length == 0 ? document : Get(document, "/" + string.Join('/', parentTokens.Select(t => t.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal))), index);
        var last = tokens[^1];
        switch (parent)
        {
            case JsonObject o:
                o[last] = value;
                break;
            case JsonArray a when last == "-":
                a.Add(value);
                break;
            case JsonArray a when int.TryParse(last, out var i) && i >= 0 && i <= a.Count:
                a.Insert(i, value);
                break;
            default:
                throw FhirException.Unprocessable($"JSON Patch operation {index}: cannot add at {pointer}.", pointer);
        }

        return document;
    }

    private static void Remove(JsonNode document, string pointer, int index)
    {
        var node = Get(document, pointer, index);
        switch (node.Parent)
        {
            case JsonObject o:
                o.Remove(Tokens(pointer)[^1]);
                break;
            case JsonArray a:
                a.Remove(node);
                break;
            default:
                throw FhirException.Unprocessable($"JSON Patch operation {index}: cannot remove the whole resource.", pointer);
        }
    }

    public static Resource ApplyFhirPathPatch(Resource resource, Parameters patch)
    {
        var i = 0;
        foreach (var operation in patch.Parameter.Where(p => p.Name == "operation"))
        {
            string? Part(string name) => operation.Part.FirstOrDefault(p => p.Name == name)?.Value?.ToString();
            var type = Part("type") ?? throw FhirException.BadRequest($"FHIRPath Patch operation {i} has no type.", $"Parameters.parameter[{i}]");
            var path = Part("path") ?? throw FhirException.BadRequest($"FHIRPath Patch operation {i} has no path.", $"Parameters.parameter[{i}]");
            var value = operation.Part.FirstOrDefault(p => p.Name == "value")?.Value;
            List<Base> targets;
            try
            {
                targets = resource.Select(path).OfType<Base>().ToList();
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException or ArgumentException)
            {
                throw FhirException.BadRequest($"FHIRPath Patch operation {i}: the path '{path}' is not valid FHIRPath ({e.Message}).", $"Parameters.parameter[{i}]");
            }

            try
            {
                switch (type)
                {
                    case "add":
                        var name = Part("name") ?? throw FhirException.BadRequest($"FHIRPath Patch add {i} has no name.");
                        var container = Single(targets, path, i);
                        SetOrAppend(container, name, value ?? throw FhirException.BadRequest($"FHIRPath Patch add {i} has no value."));
                        break;
                    case "replace":
                        var (parent, element, listIndex) = Locate(resource, Single(targets, path, i), path, i);
                        Replace(parent, element, listIndex, value ?? throw FhirException.BadRequest($"FHIRPath Patch replace {i} has no value."));
                        break;
                    case "delete":
                        if (targets.Count == 0)
                        {
                            break;
                        }

                        var (p2, e2, i2) = Locate(resource, Single(targets, path, i), path, i);
                        Delete(p2, e2, i2);
                        break;
                    case "insert":
                        var index = int.Parse(Part("index") ?? throw FhirException.BadRequest($"FHIRPath Patch insert {i} has no index."), System.Globalization.CultureInfo.InvariantCulture);
                        InsertIntoList(resource, path, index, value ?? throw FhirException.BadRequest($"FHIRPath Patch insert {i} has no value."), i);
                        break;
                    case "move":
                        var source = int.Parse(Part("source") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
                        var destination = int.Parse(Part("destination") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
                        MoveInList(resource, path, source, destination, i);
                        break;
                    default:
                        throw FhirException.BadRequest($"'{type}' is not a FHIRPath Patch operation type (add, insert, delete, replace, move).");
                }
            }
            catch (Exception e) when (e is InvalidCastException or ArgumentException or KeyNotFoundException or FormatException)
            {
                throw FhirException.Unprocessable($"FHIRPath Patch operation {i} ({type} at {path}) cannot be applied: {e.Message}", path);
            }

            i++;
        }

        // Round trip through strict parsing so that the patched resource is checked like any other write.
        return FhirSerialization.ParseJson(FhirSerialization.ToJson(resource));
    }

    private static Base Single(List<Base> targets, string path, int i) => targets.Count switch
    {
        1 => targets[0],
        0 => throw FhirException.Unprocessable($"FHIRPath Patch operation {i}: '{path}' selects nothing.", path),
        _ => throw FhirException.Unprocessable($"FHIRPath Patch operation {i}: '{path}' selects {targets.Count} elements; it must select one.", path),
    };

    private static void SetOrAppend(Base container, string name, DataType value)
    {
        if (container.TryGetValue(name, out var existing) && existing is IList list)
        {
            list.Add(value);
            return;
        }

        if (container.TryGetValue(name, out existing) && existing is not null)
        {
            throw new ArgumentException($"'{name}' already has a value; use replace.");
        }

        container.SetValue(name, Convert(container, name, value));
    }

    private static object Convert(Base container, string name, DataType value)
    {
        // A code or id element arrives as a string in Parameters; set through the element's own type.
        var property = container.GetType().GetProperties().FirstOrDefault(p => string.Equals(p.Name, name + "Element", StringComparison.OrdinalIgnoreCase) || string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
        if (property is not null && value is PrimitiveType primitive && !property.PropertyType.IsInstanceOfType(value) && typeof(PrimitiveType).IsAssignableFrom(property.PropertyType))
        {
            var converted = (PrimitiveType)Activator.CreateInstance(property.PropertyType)!;
            converted.JsonValue = primitive.JsonValue;
            return converted;
        }

        return value;
    }

    /// <summary>Finds which element of which parent holds <paramref name="target"/>, by walking the resource.</summary>
    private static (Base Parent, string Name, int? Index) Locate(Base root, Base target, string path, int i)
    {
        var stack = new Stack<Base>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            foreach (var (name, value) in node.EnumerateElements())
            {
                if (ReferenceEquals(value, target))
                {
                    return (node, name, null);
                }

                if (value is IEnumerable<Base> items and not Base)
                {
                    var k = 0;
                    foreach (var item in items)
                    {
                        if (ReferenceEquals(item, target))
                        {
                            return (node, name, k);
                        }

                        stack.Push(item);
                        k++;
                    }
                }
                else if (value is Base child)
                {
                    stack.Push(child);
                }
            }
        }

        throw FhirException.Unprocessable($"FHIRPath Patch operation {i}: '{path}' does not select an element of the resource.", path);
    }

    private static void Replace(Base parent, string name, int? index, DataType value)
    {
        if (index is { } k && parent[name] is IList list)
        {
            list[k] = value;
            return;
        }

        parent.SetValue(name, Convert(parent, name, value));
    }

    private static void Delete(Base parent, string name, int? index)
    {
        if (index is { } k && parent[name] is IList list)
        {
            list.RemoveAt(k);
            return;
        }

        parent.SetValue(name, null!);
    }

    private static IList ListAt(Resource resource, string path, int i)
    {
        var dot = path.LastIndexOf('.');
        if (dot < 0)
        {
            throw FhirException.BadRequest($"FHIRPath Patch operation {i}: '{path}' must end with the name of a repeating element.");
        }

        var parent = Single(resource.Select(path[..dot]).OfType<Base>().ToList(), path[..dot], i);
        var name = path[(dot + 1)..];
        return parent.TryGetValue(name, out var v) && v is IList list ? list : throw FhirException.Unprocessable($"FHIRPath Patch operation {i}: '{path}' is not a repeating element.", path);
    }

    private static void InsertIntoList(Resource resource, string path, int index, DataType value, int i)
    {
        var list = ListAt(resource, path, i);
        if (index < 0 || index > list.Count)
        {
            throw FhirException.Unprocessable($"FHIRPath Patch insert {i}: index {index} is outside 0..{list.Count}.", path);
        }

        list.Insert(index, value);
    }

    private static void MoveInList(Resource resource, string path, int source, int destination, int i)
    {
        var list = ListAt(resource, path, i);
        if (source < 0 || source >= list.Count || destination < 0 || destination >= list.Count)
        {
            throw FhirException.Unprocessable($"FHIRPath Patch move {i}: source or destination is outside the list.", path);
        }

        var item = list[source];
        list.RemoveAt(source);
        list.Insert(destination, item);
    }
}
