using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>Bad requests get a 4xx with an OperationOutcome naming the element, never a 5xx, and change nothing.</summary>
public class BadInputContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    public sealed record BadRequest(string Name, string Method, string Url, string? Body, string? ContentType, int Status, string? Expression)
    {
        public override string ToString() => Name;
    }

    private static readonly BadRequest[] Cases =
    [
        new("unparseable JSON", "POST", "/fhir/Patient", """{"resourceType":"Patient",""", FhirHttp.FhirJson, 400, null),
        new("JSON number", "POST", "/fhir/Patient", "123", FhirHttp.FhirJson, 400, null),
        new("JSON true", "POST", "/fhir/Patient", "true", FhirHttp.FhirJson, 400, null),
        new("JSON string", "POST", "/fhir/Patient", "\"Patient\"", FhirHttp.FhirJson, 400, null),
        new("JSON null", "POST", "/fhir/Patient", "null", FhirHttp.FhirJson, 400, null),
        new("no resourceType", "POST", "/fhir/Patient", """{"active":true}""", FhirHttp.FhirJson, 400, null),
        new("unknown element", "POST", "/fhir/Patient", """{"resourceType":"Patient","foo":1}""", FhirHttp.FhirJson, 400, "Patient.foo"),
        new("unknown nested element", "POST", "/fhir/Patient", """{"resourceType":"Patient","name":[{"family":"X","nickname":"Y"}]}""", FhirHttp.FhirJson, 400, "Patient.name[0].nickname"),
        new("wrong value type", "POST", "/fhir/Patient", """{"resourceType":"Patient","active":"yes"}""", FhirHttp.FhirJson, 400, "Patient.active"),
        new("object for an array", "POST", "/fhir/Patient", """{"resourceType":"Patient","name":{"family":"X"}}""", FhirHttp.FhirJson, 400, "Patient.name"),
        new("invalid date", "POST", "/fhir/Patient", """{"resourceType":"Patient","birthDate":"1990-13-45"}""", FhirHttp.FhirJson, 400, "Patient.birthDate"),
        new("invalid code", "POST", "/fhir/Patient", """{"resourceType":"Patient","gender":"sometimes"}""", FhirHttp.FhirJson, 400, "Patient.gender"),
        new("unknown resource type in body", "POST", "/fhir/Patient", """{"resourceType":"Patientx"}""", FhirHttp.FhirJson, 400, null),
        new("wrong resource type for the URL", "POST", "/fhir/Patient", """{"resourceType":"Observation","status":"final","code":{"text":"x"}}""", FhirHttp.FhirJson, 400, "resourceType"),
        new("wrong resource type on PUT", "PUT", "/fhir/Patient/abc", """{"resourceType":"Observation","id":"abc","status":"final","code":{"text":"x"}}""", FhirHttp.FhirJson, 400, "resourceType"),
        new("id mismatch", "PUT", "/fhir/Patient/abc", """{"resourceType":"Patient","id":"xyz"}""", FhirHttp.FhirJson, 400, "Patient.id"),
        new("missing id on PUT", "PUT", "/fhir/Patient/abc", """{"resourceType":"Patient","active":true}""", FhirHttp.FhirJson, 400, "Patient.id"),
        new("invalid id in the URL (GET)", "GET", "/fhir/Patient/bad_id!", null, null, 400, "Patient.id"),
        new("invalid id in the URL (PUT)", "PUT", "/fhir/Patient/bad_id", """{"resourceType":"Patient","id":"bad_id"}""", FhirHttp.FhirJson, 400, "Patient.id"),
        new("id longer than 64", "PUT", "/fhir/Patient/" + new string('a', 65), "{\"resourceType\":\"Patient\",\"id\":\"" + new string('a', 65) + "\"}", FhirHttp.FhirJson, 400, "Patient.id"),
        new("invalid version id", "GET", "/fhir/Patient/abc/_history/one", null, null, 400, null),
        new("unknown resource type (GET)", "GET", "/fhir/Patientx/1", null, null, 404, null),
        new("unknown resource type (POST)", "POST", "/fhir/Patientx", """{"resourceType":"Patient","active":true}""", FhirHttp.FhirJson, 404, null),
        new("abstract resource type", "GET", "/fhir/DomainResource", null, null, 404, null),
        new("empty body on POST", "POST", "/fhir/Patient", "", FhirHttp.FhirJson, 400, null),
        new("whitespace body on POST", "POST", "/fhir/Patient", "  \n ", FhirHttp.FhirJson, 400, null),
        new("empty body on PUT", "PUT", "/fhir/Patient/abc", "", FhirHttp.FhirJson, 400, null),
        new("unsupported content type", "POST", "/fhir/Patient", """{"resourceType":"Patient","active":true}""", "text/plain", 415, null),
        new("method not allowed on an instance", "POST", "/fhir/Patient/abc", """{"resourceType":"Patient","active":true}""", FhirHttp.FhirJson, 405, null),
        new("unknown history parameter", "GET", "/fhir/Patient/_history?_foo=1", null, null, 400, "_foo"),
        new("bad history _count", "GET", "/fhir/_history?_count=-1", null, null, 400, "_count"),
        new("bad search _count", "GET", "/fhir/Patient?_count=many", null, null, 400, "_count"),
        new("bad date search value", "GET", "/fhir/Patient?birthdate=yesterday", null, null, 400, "birthdate"),
        new("a Patient posted to the base", "POST", "/fhir", """{"resourceType":"Patient","active":true}""", FhirHttp.FhirJson, 400, null),
        new("a searchset posted to the base", "POST", "/fhir", """{"resourceType":"Bundle","type":"searchset"}""", FhirHttp.FhirJson, 400, "Bundle.type"),
        new("unknown operation", "POST", "/fhir/Patient/$frobnicate", """{"resourceType":"Parameters","parameter":[{"name":"x","valueString":"y"}]}""", FhirHttp.FhirJson, 404, null),
        new("deeply nested JSON", "POST", "/fhir/Patient", "{\"resourceType\":\"Patient\",\"extension\":" + string.Concat(Enumerable.Repeat("[", 5000)) + string.Concat(Enumerable.Repeat("]", 5000)) + "}", FhirHttp.FhirJson, 400, null),
        new("XML with a DTD", "POST", "/fhir/Patient", """<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><name><family value="&x;"/></name></Patient>""", FhirHttp.FhirXml, 400, null),
    ];

    public static TheoryData<string, BadRequest> CasesOnBothBackends()
    {
        var data = new TheoryData<string, BadRequest>();
        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            foreach (var c in Cases)
            {
                data.Add(backend, c);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CasesOnBothBackends))]
    public async Task A_bad_request_is_a_4xx_outcome_that_writes_nothing(string backend, BadRequest bad)
    {
        var client = hosts[backend];
        var before = await client.WriteFingerprintAsync();

        var result = await client.SendAsync(bad.Method, bad.Url, bad.Body, bad.ContentType);

        AssertOutcome(result, bad.Status, bad.Expression);
        Assert.NotNull(result.Header("X-Correlation-Id"));
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    public static TheoryData<string, string> JsonArrayBodies() => new()
    {
        { "sqlite", "[1,2,3]" },
        { "postgres", "[1,2,3]" },
        { "sqlite", "[]" },
        { "sqlite", "[{\"resourceType\":\"Patient\",\"active\":true}]" },
    };

    [Theory]
    [MemberData(nameof(JsonArrayBodies))]
    public async Task A_json_array_body_is_400_not_500(string backend, string body)
    {
        var client = hosts[backend];
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.FhirPostAsync("/fhir/Patient", body), 400);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_string_with_a_nul_character_is_400(string backend)
    {
        var client = hosts[backend];
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.FhirPostAsync("/fhir/Patient", """{"resourceType":"Patient","name":[{"family":"Nul\u0000Byte"}]}"""), 400, "Patient.name[0].family");
        AssertOutcome(await client.FhirPostAsync("/fhir/Patient", """{"resourceType":"Patient","identifier":[{"system":"\u0000","value":"1"}]}"""), 400, "Patient.identifier[0].system");
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Every_problem_in_a_body_is_reported_with_its_path(string backend)
    {
        var client = hosts[backend];

        var result = await client.FhirPostAsync("/fhir/Patient", """{"resourceType":"Patient","foo":1,"active":"yes","gender":"sometimes"}""");

        var outcome = AssertOutcome(result, 400);
        var expressions = outcome["issue"]!.AsArray().SelectMany(i => i!["expression"]?.AsArray().Select(x => x!.GetValue<string>()) ?? []).ToList();
        Assert.Contains(expressions, x => x.Contains("Patient.foo", StringComparison.Ordinal));
        Assert.Contains(expressions, x => x.Contains("Patient.active", StringComparison.Ordinal));
        Assert.Contains(expressions, x => x.Contains("Patient.gender", StringComparison.Ordinal));
    }
}

/// <summary>Tessera:MaxBodyBytes: larger bodies get 413 with an OperationOutcome, whether or not they say their length.</summary>
public class BodySizeContractTests(SmallBodyHosts hosts) : IClassFixture<SmallBodyHosts>
{
    private static string LargePatient() => Patient("Large", given: new string('x', 2 * SmallBodyHosts.MaxBodyBytes));

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_body_over_the_limit_is_413_and_writes_nothing(string backend)
    {
        var client = hosts[backend];
        var before = await client.WriteFingerprintAsync();

        var result = await client.FhirPostAsync("/fhir/Patient", LargePatient());

        var outcome = AssertOutcome(result, 413);
        Assert.Contains("MaxBodyBytes", outcome["issue"]![0]!["diagnostics"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(before, await client.WriteFingerprintAsync());
        Assert.Equal(201, (await client.FhirPostAsync("/fhir/Patient", Patient("Small"))).Status);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_chunked_body_over_the_limit_is_413_and_writes_nothing(string backend)
    {
        var client = hosts[backend];
        var before = await client.WriteFingerprintAsync();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/fhir/Patient")
        {
            Content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(LargePatient()))),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(FhirHttp.FhirJson);
        request.Headers.TransferEncodingChunked = true;

        AssertOutcome(await client.SendFhirAsync(request), 413);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_transaction_over_the_limit_is_413(string backend)
    {
        var client = hosts[backend];
        var before = await client.WriteFingerprintAsync();
        var bundle = "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"resource\":" + LargePatient() + ",\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}";

        AssertOutcome(await client.FhirPostAsync("/fhir", bundle), 413);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task The_413_outcome_states_the_actual_limit(string backend)
    {
        var client = hosts[backend];

        var outcome = AssertOutcome(await client.FhirPostAsync("/fhir/Patient", LargePatient()), 413);

        var diagnostics = outcome["issue"]![0]!["diagnostics"]!.GetValue<string>();
        Assert.DoesNotContain(" 0 MiB", diagnostics, StringComparison.Ordinal);
        Assert.True(diagnostics.Contains("1024", StringComparison.Ordinal) || diagnostics.Contains("1 KiB", StringComparison.Ordinal), diagnostics);
    }
}
