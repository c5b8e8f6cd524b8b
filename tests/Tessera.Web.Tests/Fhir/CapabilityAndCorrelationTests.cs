using System.Text.Json.Nodes;
using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>/fhir/metadata says what the server does and no more; every response carries a correlation id.</summary>
public class CapabilityAndCorrelationTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    private static IEnumerable<string> Codes(JsonNode? interactions) =>
        interactions?.AsArray().Select(i => i!["code"]!.GetValue<string>()) ?? [];

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Metadata_is_a_capability_statement_for_r4(string backend)
    {
        var client = hosts[backend];

        var result = await client.FhirGetAsync("/fhir/metadata");

        Assert.True(result.Status == 200, result.ToString());
        Assert.Equal(FhirHttp.FhirJson, result.ContentType);
        var cs = result.Json;
        Assert.Equal("CapabilityStatement", cs["resourceType"]!.GetValue<string>());
        Assert.Equal("4.0.1", cs["fhirVersion"]!.GetValue<string>());
        Assert.Equal("instance", cs["kind"]!.GetValue<string>());
        var formats = cs["format"]!.AsArray().Select(f => f!.GetValue<string>()).ToList();
        Assert.True(formats.Contains("json") || formats.Contains(FhirHttp.FhirJson), string.Join(",", formats));
        Assert.True(formats.Contains("xml") || formats.Contains(FhirHttp.FhirXml), string.Join(",", formats));

        var rest = Assert.Single(cs["rest"]!.AsArray())!;
        Assert.Equal("server", rest["mode"]!.GetValue<string>());
        Assert.Equal(["batch", "history-system", "transaction"], Codes(rest["interaction"]).Order(StringComparer.Ordinal));

        var patient = rest["resource"]!.AsArray().Single(r => r!["type"]!.GetValue<string>() == "Patient")!;
        Assert.Equal(
            new[] { "read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type" }.Order(StringComparer.Ordinal),
            Codes(patient["interaction"]).Order(StringComparer.Ordinal));
        // Operations are listed where they are answered, and nowhere else.
        Assert.Contains(patient["operation"]!.AsArray(), o => o!["name"]!.GetValue<string>() == "everything");
        var observation = rest["resource"]!.AsArray().Single(r => r!["type"]!.GetValue<string>() == "Observation")!;
        Assert.DoesNotContain(observation["operation"]?.AsArray() ?? [], o => o!["name"]!.GetValue<string>() == "everything");
        // The master patient index adds its own (docs/mpi.md).
        var patientOperations = patient["operation"]!.AsArray().Select(o => o!["name"]!.GetValue<string>()).ToList();
        Assert.Subset(patientOperations.ToHashSet(), new HashSet<string> { "match", "ihe-pix", "merge", "unmerge" });
        Assert.Contains(patient["searchParam"]!.AsArray(), p => p!["name"]!.GetValue<string>() == "family");
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Metadata_comes_as_xml_when_asked(string backend)
    {
        var client = hosts[backend];

        var result = await client.FhirGetAsync("/fhir/metadata", ("Accept", FhirHttp.FhirXml));

        Assert.Equal(200, result.Status);
        Assert.Equal(FhirHttp.FhirXml, result.ContentType);
        Assert.Equal("{http://hl7.org/fhir}CapabilityStatement", System.Xml.Linq.XDocument.Parse(result.Body).Root!.Name.ToString());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Every_response_carries_a_correlation_id_and_echoes_the_callers(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Correlated"))).Id;
        var requests = new Func<(string Name, string Value)[], Task<FhirResult>>[]
        {
            h => client.FhirGetAsync("/fhir/metadata", h),
            h => client.FhirGetAsync($"/fhir/Patient/{id}", h),
            h => client.FhirGetAsync($"/fhir/Patient/{id}", [.. h, ("If-None-Match", "W/\"1\"")]),
            h => client.FhirGetAsync($"/fhir/Patient/{Unique()}", h),
            h => client.FhirGetAsync("/fhir/Nonsense/1", h),
            h => client.FhirPostAsync("/fhir/Patient", Patient("Correlated"), h),
            h => client.FhirPostAsync("/fhir/Patient", "{", h),
            h => client.SendAsync("POST", "/fhir/Patient", "x", "text/plain", h),
            h => client.FhirGetAsync("/fhir/Patient?_format=bogus", h),
            h => client.FhirDeleteAsync($"/fhir/Patient/{Unique()}", h),
            h => client.FhirGetAsync("/not-fhir", h),
        };

        foreach (var send in requests)
        {
            var generated = await send([]);
            Assert.False(string.IsNullOrWhiteSpace(generated.Header("X-Correlation-Id")), $"no X-Correlation-Id on {generated}");

            var mine = "test-" + Unique();
            var echoed = await send([("X-Correlation-Id", mine)]);
            Assert.True(echoed.Header("X-Correlation-Id") == mine, $"X-Correlation-Id {echoed.Header("X-Correlation-Id")} instead of {mine} on {echoed}");
        }
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_server_error_carries_the_correlation_id_it_quotes(string backend)
    {
        var client = hosts[backend];

        using var request = new HttpRequestMessage(HttpMethod.Get, "/test/fail");
        request.Headers.Add("X-Correlation-Id", "quote-me");
        using var response = await client.SendAsync(request);
        var result = (Status: (int)response.StatusCode, Body: await response.Content.ReadAsStringAsync(), Header: response.Headers.TryGetValues("X-Correlation-Id", out var v) ? v.Single() : null);

        Assert.Equal(500, result.Status);
        Assert.Equal("quote-me", result.Header);
        Assert.Contains("OperationOutcome", result.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("deliberate failure", result.Body, StringComparison.Ordinal);
        Assert.Contains("quote-me", result.Body, StringComparison.Ordinal);
    }
}
