using System.Xml.Linq;
using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>Content negotiation (FHIR R4 3.1.0.1.6): JSON by default, XML on request, _pretty, and refusals.</summary>
public class FormatContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    private static readonly XNamespace F = "http://hl7.org/fhir";

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Json_is_the_default(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Json"))).Id;

        var read = await client.FhirGetAsync($"/fhir/Patient/{id}");

        Assert.Equal(FhirHttp.FhirJson, read.ContentType);
        Assert.Equal("Patient", read.ResourceType);
        Assert.DoesNotContain('\n', read.Body.Trim());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Xml_is_given_for_accept_and_for_format(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Xml"))).Id;

        foreach (var read in new[]
        {
            await client.FhirGetAsync($"/fhir/Patient/{id}", ("Accept", FhirHttp.FhirXml)),
            await client.FhirGetAsync($"/fhir/Patient/{id}?_format=xml"),
            await client.FhirGetAsync($"/fhir/Patient/{id}?_format={Uri.EscapeDataString(FhirHttp.FhirXml)}"),
            await client.FhirGetAsync($"/fhir/Patient/{id}?_format=xml", ("Accept", FhirHttp.FhirJson)),
        })
        {
            Assert.True(read.Status == 200, read.ToString());
            Assert.Equal(FhirHttp.FhirXml, read.ContentType);
            var root = XDocument.Parse(read.Body).Root!;
            Assert.Equal(F + "Patient", root.Name);
            Assert.Equal(id, root.Element(F + "id")!.Attribute("value")!.Value);
            Assert.Equal("Xml", root.Element(F + "name")!.Element(F + "family")!.Attribute("value")!.Value);
        }

        var json = await client.FhirGetAsync($"/fhir/Patient/{id}?_format=json", ("Accept", FhirHttp.FhirXml));
        Assert.Equal(FhirHttp.FhirJson, json.ContentType);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Errors_come_in_the_format_asked_for(string backend)
    {
        var client = hosts[backend];

        var missing = await client.FhirGetAsync($"/fhir/Patient/{Unique()}?_format=xml");

        Assert.Equal(404, missing.Status);
        Assert.Equal(FhirHttp.FhirXml, missing.ContentType);
        Assert.Equal(F + "OperationOutcome", XDocument.Parse(missing.Body).Root!.Name);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Xml_request_bodies_are_accepted_for_create_and_update(string backend)
    {
        var client = hosts[backend];
        const string xml = """<Patient xmlns="http://hl7.org/fhir"><name><family value="FromXml"/><given value="Ada"/></name><birthDate value="1990-02-03"/></Patient>""";

        var created = await client.SendAsync("POST", "/fhir/Patient", xml, FhirHttp.FhirXml);

        Assert.True(created.Status == 201, created.ToString());
        Assert.Equal("FromXml", Family(created.Json));
        Assert.Equal("1990-02-03", created.Json["birthDate"]!.GetValue<string>());

        var update = $"""<Patient xmlns="http://hl7.org/fhir"><id value="{created.Id}"/><name><family value="FromXml2"/></name></Patient>""";
        var updated = await client.SendAsync("PUT", $"/fhir/Patient/{created.Id}?_format=xml", update, FhirHttp.FhirXml + "; charset=utf-8");
        Assert.True(updated.Status == 200, updated.ToString());
        Assert.Equal(FhirHttp.FhirXml, updated.ContentType);
        Assert.Equal("FromXml2", XDocument.Parse(updated.Body).Root!.Element(F + "name")!.Element(F + "family")!.Attribute("value")!.Value);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Malformed_xml_is_400_and_writes_nothing(string backend)
    {
        var client = hosts[backend];
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.SendAsync("POST", "/fhir/Patient", "<Patient xmlns=\"http://hl7.org/fhir\"><name>", FhirHttp.FhirXml), 400);
        AssertOutcome(await client.SendAsync("POST", "/fhir/Patient", "<Patient xmlns=\"http://hl7.org/fhir\"><foo value=\"1\"/></Patient>", FhirHttp.FhirXml), 400, "Patient.foo");
        AssertOutcome(await client.SendAsync("POST", "/fhir/Patient", "<Patient><active value=\"true\"/></Patient>", FhirHttp.FhirXml), 400);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Pretty_true_indents_json_and_xml(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Pretty"))).Id;

        var json = await client.FhirGetAsync($"/fhir/Patient/{id}?_pretty=true");
        Assert.Equal(200, json.Status);
        Assert.Contains("\n  \"", json.Body, StringComparison.Ordinal);
        Assert.Equal("Pretty", Family(json.Json));

        var xml = await client.FhirGetAsync($"/fhir/Patient/{id}?_pretty=true&_format=xml");
        Assert.Equal(200, xml.Status);
        Assert.Contains("\n  <", xml.Body, StringComparison.Ordinal);

        var compact = await client.FhirGetAsync($"/fhir/Patient/{id}?_pretty=false");
        Assert.DoesNotContain('\n', compact.Body.Trim());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task An_unsupported_format_is_406(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Turtle"))).Id;

        AssertOutcome(await client.FhirGetAsync($"/fhir/Patient/{id}?_format=text/turtle"), 406);
        AssertOutcome(await client.FhirGetAsync("/fhir/metadata?_format=html"), 406);
        var before = await client.WriteFingerprintAsync();
        AssertOutcome(await client.FhirPostAsync("/fhir/Patient?_format=ttl", Patient("Turtle")), 406);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task An_unsupported_content_type_is_415_and_writes_nothing(string backend)
    {
        var client = hosts[backend];
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.SendAsync("POST", "/fhir/Patient", Patient("Plain"), "text/plain"), 415);
        AssertOutcome(await client.SendAsync("POST", "/fhir/Patient", "family=Form", "application/x-www-form-urlencoded"), 415);
        AssertOutcome(await client.SendAsync("PUT", "/fhir/Patient/plain", Patient("Plain", id: "plain"), "text/csv"), 415);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_json_patch_content_type_on_create_is_415(string backend)
    {
        var client = hosts[backend];

        AssertOutcome(await client.SendAsync("POST", "/fhir/Patient", Patient("PatchType"), FhirHttp.JsonPatch), 415);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Plain_application_json_is_accepted_as_fhir_json(string backend)
    {
        var client = hosts[backend];

        var created = await client.SendAsync("POST", "/fhir/Patient", Patient("PlainJson"), "application/json");

        Assert.True(created.Status == 201, created.ToString());
    }
}
