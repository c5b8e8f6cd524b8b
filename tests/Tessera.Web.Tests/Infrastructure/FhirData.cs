using System.Text.Json.Nodes;

namespace Tessera.Web.Tests.Infrastructure;

/// <summary>Builds request bodies and reads FHIR JSON, independent of the server's own model classes.</summary>
public static class FhirData
{
    public static string Unique() => Guid.NewGuid().ToString("N")[..12];

    public static string Patient(string family, string? identifierSystem = null, string? identifierValue = null, string? id = null, string? given = null)
    {
        var patient = new JsonObject { ["resourceType"] = "Patient" };
        if (id is not null)
        {
            patient["id"] = id;
        }

        if (identifierSystem is not null)
        {
            patient["identifier"] = new JsonArray(new JsonObject { ["system"] = identifierSystem, ["value"] = identifierValue ?? "1" });
        }

        var name = new JsonObject { ["family"] = family };
        if (given is not null)
        {
            name["given"] = new JsonArray(given);
        }

        patient["name"] = new JsonArray(name);
        return patient.ToJsonString();
    }

    public static string? Link(JsonNode bundle, string relation) =>
        bundle["link"]?.AsArray().FirstOrDefault(l => l?["relation"]?.GetValue<string>() == relation)?["url"]?.GetValue<string>();

    public static List<JsonNode> Entries(JsonNode bundle) =>
        bundle["entry"]?.AsArray().Where(e => e is not null).Select(e => e!).ToList() ?? [];

    public static string? Family(JsonNode resource) => resource["name"]?[0]?["family"]?.GetValue<string>();

    /// <summary>Asserts a FHIR error: the status, a JSON OperationOutcome with an error issue, and optionally the element it names.</summary>
    public static JsonNode AssertOutcome(FhirResult result, int status, string? expressionContains = null)
    {
        Assert.True(result.Status == status, $"expected {status}, got {result}");
        Assert.Equal(FhirHttp.FhirJson, result.ContentType);
        Assert.Equal("OperationOutcome", result.ResourceType);
        var issues = result.Json["issue"]!.AsArray();
        Assert.NotEmpty(issues);
        Assert.Contains(issues, i => i!["severity"]!.GetValue<string>() is "error" or "fatal");
        Assert.All(issues, i => Assert.False(string.IsNullOrWhiteSpace(i!["code"]?.GetValue<string>()), "every issue has a code"));
        if (expressionContains is not null)
        {
            var expressions = issues.SelectMany(i => i!["expression"]?.AsArray().Select(x => x!.GetValue<string>()) ?? []).ToList();
            Assert.True(
                expressions.Any(x => x.Contains(expressionContains, StringComparison.Ordinal)),
                $"expected an issue.expression containing '{expressionContains}'; got [{string.Join(", ", expressions)}] in {result}");
        }

        return result.Json;
    }
}
