using System.Text.Json.Nodes;
using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>Batch and transaction bundles POSTed to the base (FHIR R4 3.1.0.11).</summary>
public class BundleContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    private static JsonObject Entry(string? fullUrl, string? resourceJson, string method, string url, Action<JsonObject>? request = null)
    {
        var entry = new JsonObject();
        if (fullUrl is not null)
        {
            entry["fullUrl"] = fullUrl;
        }

        if (resourceJson is not null)
        {
            entry["resource"] = JsonNode.Parse(resourceJson);
        }

        var r = new JsonObject { ["method"] = method, ["url"] = url };
        request?.Invoke(r);
        entry["request"] = r;
        return entry;
    }

    private static string Bundle(string type, params JsonObject[] entries) =>
        new JsonObject { ["resourceType"] = "Bundle", ["type"] = type, ["entry"] = new JsonArray(entries) }.ToJsonString();

    private static string Observation(string subject, string text) =>
        new JsonObject
        {
            ["resourceType"] = "Observation",
            ["status"] = "final",
            ["code"] = new JsonObject { ["text"] = text },
            ["subject"] = new JsonObject { ["reference"] = subject },
        }.ToJsonString();

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_transaction_resolves_urn_uuid_references_and_answers_per_entry(string backend)
    {
        var client = hosts[backend];
        var patientUrn = "urn:uuid:" + Guid.NewGuid();
        var family = "Txn" + Unique();
        var bundle = Bundle(
            "transaction",
            Entry(null, Observation(patientUrn, "first"), "POST", "Observation"),
            Entry(patientUrn, Patient(family), "POST", "Patient"),
            Entry(null, Observation(patientUrn, "second"), "POST", "Observation"));

        var result = await client.FhirPostAsync("/fhir", bundle);

        Assert.True(result.Status == 200, result.ToString());
        Assert.Equal("Bundle", result.ResourceType);
        Assert.Equal("transaction-response", result.Json["type"]!.GetValue<string>());
        var entries = Entries(result.Json);
        Assert.Equal(3, entries.Count);
        foreach (var (entry, type) in entries.Zip(new[] { "Observation", "Patient", "Observation" }))
        {
            var response = entry["response"]!;
            Assert.StartsWith("201", response["status"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Matches($"^(http://localhost/fhir/)?{type}/[A-Za-z0-9\\-.]+/_history/1$", response["location"]!.GetValue<string>());
            Assert.Equal("W/\"1\"", response["etag"]!.GetValue<string>());
            Assert.NotNull(response["lastModified"]);
        }

        var patientId = entries[1]["response"]!["location"]!.GetValue<string>().Split('/')[^3];
        Assert.Equal(family, Family((await client.FhirGetAsync($"/fhir/Patient/{patientId}")).Json));
        foreach (var observation in new[] { entries[0], entries[2] })
        {
            var location = observation["response"]!["location"]!.GetValue<string>();
            var id = location.Split('/')[^3];
            var stored = await client.FhirGetAsync($"/fhir/Observation/{id}");
            Assert.Equal($"Patient/{patientId}", stored.Json["subject"]!["reference"]!.GetValue<string>());
        }

        Assert.Equal(2, await client.CountAsync($"Observation?subject=Patient/{patientId}"));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_transaction_with_one_bad_entry_is_4xx_and_writes_nothing(string backend)
    {
        var client = hosts[backend];
        var existing = (await client.CreateAsync("Patient", Patient("TxnExisting"))).Id!;
        var patientUrn = "urn:uuid:" + Guid.NewGuid();
        var family = "TxnRolledBack" + Unique();
        var before = await client.WriteFingerprintAsync();

        var failures = new (string Name, JsonObject Bad, string? Expression)[]
        {
            ("stale If-Match", Entry(null, Patient("Stale", id: existing), "PUT", $"Patient/{existing}", r => r["ifMatch"] = "W/\"9\""), null),
            ("dangling urn:uuid", Entry(null, Observation("urn:uuid:" + Guid.NewGuid(), "dangling"), "POST", "Observation"), "Bundle.entry[2]"),
            ("type mismatch", Entry(null, Patient("Mismatch"), "POST", "Observation"), "Bundle.entry[2]"),
            ("id mismatch", Entry(null, Patient("IdMismatch", id: "other"), "PUT", $"Patient/{existing}"), "Bundle.entry[2]"),
            ("invalid id", Entry(null, Patient("BadId", id: "bad_id"), "PUT", "Patient/bad_id"), "Bundle.entry[2]"),
            ("no request url", Entry(null, Patient("NoUrl"), "POST", ""), "Bundle.entry[2]"),
        };
        foreach (var (name, bad, expression) in failures)
        {
            var bundle = Bundle(
                "transaction",
                Entry(patientUrn, Patient(family), "POST", "Patient"),
                Entry(null, Observation(patientUrn, "rolled back"), "POST", "Observation"),
                bad);

            var result = await client.FhirPostAsync("/fhir", bundle);

            Assert.True(result.Status is >= 400 and < 500, $"{name}: {result}");
            AssertOutcome(result, result.Status, expression);
            Assert.Equal(before, await client.WriteFingerprintAsync());
            Assert.Equal(0, await client.CountAsync($"Patient?family={family}"));
        }
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_transaction_with_conditional_create_reuses_the_match(string backend)
    {
        var client = hosts[backend];
        var system = "urn:test:" + Unique();
        var existing = (await client.CreateAsync("Patient", Patient("TxnCond", system, "1"))).Id;
        var urn = "urn:uuid:" + Guid.NewGuid();
        var bundle = Bundle(
            "transaction",
            Entry(urn, Patient("TxnCondNew", system, "1"), "POST", "Patient", r => r["ifNoneExist"] = $"identifier={system}|1"),
            Entry(null, Observation(urn, "linked"), "POST", "Observation"));

        var result = await client.FhirPostAsync("/fhir", bundle);

        Assert.True(result.Status == 200, result.ToString());
        var entries = Entries(result.Json);
        Assert.StartsWith("200", entries[0]["response"]!["status"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("201", entries[1]["response"]!["status"]!.GetValue<string>(), StringComparison.Ordinal);
        var observationId = entries[1]["response"]!["location"]!.GetValue<string>().Split('/')[^3];
        Assert.Equal($"Patient/{existing}", (await client.FhirGetAsync($"/fhir/Observation/{observationId}")).Json["subject"]!["reference"]!.GetValue<string>());
        Assert.Equal(1, await client.CountAsync($"Patient?identifier={system}|1"));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_batch_answers_each_entry_on_its_own(string backend)
    {
        var client = hosts[backend];
        var existing = (await client.CreateAsync("Patient", Patient("BatchExisting"))).Id!;
        var family = "Batch" + Unique();
        var bundle = Bundle(
            "batch",
            Entry(null, Patient(family), "POST", "Patient"),
            Entry(null, null, "GET", $"Patient/{existing}"),
            Entry(null, Patient("Stale", id: existing), "PUT", $"Patient/{existing}", r => r["ifMatch"] = "W/\"9\""),
            Entry(null, null, "GET", $"Patient/{Unique()}"),
            Entry(null, Patient("Mismatch"), "POST", "Observation"),
            Entry(null, null, "DELETE", $"Patient/{existing}"));

        var result = await client.FhirPostAsync("/fhir", bundle);

        Assert.True(result.Status == 200, result.ToString());
        Assert.Equal("batch-response", result.Json["type"]!.GetValue<string>());
        var entries = Entries(result.Json);
        Assert.Equal(6, entries.Count);
        var statuses = entries.Select(e => e["response"]!["status"]!.GetValue<string>()[..3]).ToList();
        Assert.Equal(["201", "200", "412", "404", "400", "204"], statuses);
        Assert.Equal("BatchExisting", Family(entries[1]["resource"]!));
        foreach (var failed in new[] { entries[2], entries[3], entries[4] })
        {
            Assert.Equal("OperationOutcome", failed["response"]!["outcome"]!["resourceType"]!.GetValue<string>());
        }

        Assert.Equal(1, await client.CountAsync($"Patient?family={family}"));
        Assert.Equal(410, (await client.FhirGetAsync($"/fhir/Patient/{existing}")).Status);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_transaction_is_accepted_as_xml(string backend)
    {
        var client = hosts[backend];
        var family = "XmlTxn" + Unique();
        var xml = $"""
            <Bundle xmlns="http://hl7.org/fhir">
              <type value="transaction"/>
              <entry>
                <fullUrl value="urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"/>
                <resource><Patient><name><family value="{family}"/></name></Patient></resource>
                <request><method value="POST"/><url value="Patient"/></request>
              </entry>
            </Bundle>
            """;

        var result = await client.SendAsync("POST", "/fhir?_format=xml", xml, FhirHttp.FhirXml);

        Assert.True(result.Status == 200, result.ToString());
        Assert.Equal(FhirHttp.FhirXml, result.ContentType);
        Assert.Equal(1, await client.CountAsync($"Patient?family={family}"));
    }
}
