using System.Text.Json.Nodes;
using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>FHIR R4 3.1.0: create, read, vread, update, delete and history over HTTP.</summary>
public class CrudContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Create_answers_201_with_location_etag_last_modified_and_server_meta(string backend)
    {
        var client = hosts[backend];
        var body = JsonNode.Parse(Patient("Create"))!;
        body["id"] = "client-chosen";
        body["meta"] = new JsonObject { ["versionId"] = "42", ["lastUpdated"] = "2001-01-01T00:00:00Z" };

        var created = await client.FhirPostAsync("/fhir/Patient", body.ToJsonString());

        Assert.True(created.Status == 201, created.ToString());
        Assert.Equal(FhirHttp.FhirJson, created.ContentType);
        var id = created.Id;
        Assert.NotNull(id);
        Assert.NotEqual("client-chosen", id);
        Assert.Matches($"^http://localhost/fhir/Patient/{id}/_history/1$", created.Location);
        Assert.Equal("W/\"1\"", created.ETag);
        Assert.NotNull(created.LastModified);
        Assert.Equal("1", created.Json["meta"]!["versionId"]!.GetValue<string>());
        var lastUpdated = DateTimeOffset.Parse(created.Json["meta"]!["lastUpdated"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(lastUpdated.Year > 2001, "the server sets meta.lastUpdated");
        Assert.Equal(lastUpdated.ToUnixTimeSeconds(), created.LastModified!.Value.ToUnixTimeSeconds());
        Assert.Equal("Create", Family(created.Json));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Read_and_vread_return_the_version_with_its_etag(string backend)
    {
        var client = hosts[backend];
        var created = await client.CreateAsync("Patient", Patient("Read"));

        var read = await client.FhirGetAsync($"/fhir/Patient/{created.Id}");
        Assert.True(read.Status == 200, read.ToString());
        Assert.Equal("W/\"1\"", read.ETag);
        Assert.NotNull(read.LastModified);
        Assert.Equal(FhirHttp.FhirJson, read.ContentType);
        Assert.Equal(created.Id, read.Id);
        Assert.Equal("Read", Family(read.Json));

        var vread = await client.FhirGetAsync($"/fhir/Patient/{created.Id}/_history/1");
        Assert.True(vread.Status == 200, vread.ToString());
        Assert.Equal("W/\"1\"", vread.ETag);
        Assert.Equal("1", vread.Json["meta"]!["versionId"]!.GetValue<string>());

        AssertOutcome(await client.FhirGetAsync($"/fhir/Patient/{created.Id}/_history/2"), 404);
        AssertOutcome(await client.FhirGetAsync($"/fhir/Patient/{Unique()}"), 404);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Update_answers_200_with_version_2_and_keeps_version_1(string backend)
    {
        var client = hosts[backend];
        var created = await client.CreateAsync("Patient", Patient("Before"));
        var id = created.Id!;

        var updated = await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("After", id: id));

        Assert.True(updated.Status == 200, updated.ToString());
        Assert.Equal("W/\"2\"", updated.ETag);
        Assert.Equal($"http://localhost/fhir/Patient/{id}/_history/2", updated.Location);
        Assert.Equal("2", updated.Json["meta"]!["versionId"]!.GetValue<string>());
        Assert.Equal("After", Family((await client.FhirGetAsync($"/fhir/Patient/{id}")).Json));
        Assert.Equal("Before", Family((await client.FhirGetAsync($"/fhir/Patient/{id}/_history/1")).Json));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Update_with_a_new_client_id_creates_it_with_201(string backend)
    {
        var client = hosts[backend];
        var id = "client-" + Unique();

        var created = await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("UpdateCreate", id: id));

        Assert.True(created.Status == 201, created.ToString());
        Assert.Equal($"http://localhost/fhir/Patient/{id}/_history/1", created.Location);
        Assert.Equal("W/\"1\"", created.ETag);
        Assert.Equal(id, created.Id);
        Assert.Equal(200, (await client.FhirGetAsync($"/fhir/Patient/{id}")).Status);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Delete_answers_204_and_then_read_is_410_gone_with_an_outcome(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Deleted"))).Id;

        var deleted = await client.FhirDeleteAsync($"/fhir/Patient/{id}");
        Assert.True(deleted.Status == 204, deleted.ToString());
        Assert.Empty(deleted.Body);

        var gone = await client.FhirGetAsync($"/fhir/Patient/{id}");
        var outcome = AssertOutcome(gone, 410);
        Assert.Equal("deleted", outcome["issue"]![0]!["code"]!.GetValue<string>());

        // Version 1 stays readable; deleting again changes nothing.
        Assert.Equal(200, (await client.FhirGetAsync($"/fhir/Patient/{id}/_history/1")).Status);
        var before = await client.WriteFingerprintAsync();
        Assert.Equal(204, (await client.FhirDeleteAsync($"/fhir/Patient/{id}")).Status);
        Assert.Equal(before, await client.WriteFingerprintAsync());

        var history = await client.FhirGetAsync($"/fhir/Patient/{id}/_history");
        var entries = Entries(history.Json);
        Assert.Equal(2, entries.Count);
        Assert.Equal("DELETE", entries[0]["request"]!["method"]!.GetValue<string>());
        Assert.Null(entries[0]["resource"]);

        // A deleted resource can be brought back by an update, as a new version.
        var revived = await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Revived", id: id));
        Assert.True(revived.Status is 200 or 201, revived.ToString());
        Assert.Equal("W/\"3\"", revived.ETag);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Instance_history_lists_versions_newest_first(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("V1"))).Id;
        Assert.Equal(200, (await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("V2", id: id))).Status);
        Assert.Equal(200, (await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("V3", id: id))).Status);

        var history = await client.FhirGetAsync($"/fhir/Patient/{id}/_history");

        Assert.True(history.Status == 200, history.ToString());
        Assert.Equal("Bundle", history.ResourceType);
        Assert.Equal("history", history.Json["type"]!.GetValue<string>());
        var entries = Entries(history.Json);
        Assert.Equal(["V3", "V2", "V1"], entries.Select(e => Family(e["resource"]!)));
        Assert.Equal(["W/\"3\"", "W/\"2\"", "W/\"1\""], entries.Select(e => e["response"]!["etag"]!.GetValue<string>()));
        Assert.Equal(["PUT", "PUT", "POST"], entries.Select(e => e["request"]!["method"]!.GetValue<string>()));
        Assert.All(entries, e => Assert.Equal($"http://localhost/fhir/Patient/{id}", e["fullUrl"]!.GetValue<string>()));

        AssertOutcome(await client.FhirGetAsync($"/fhir/Patient/{Unique()}/_history"), 404);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task History_pages_with_count_and_next_links_reach_every_version_once(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Paged0"))).Id;
        for (var v = 1; v < 7; v++)
        {
            Assert.Equal(200, (await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Paged" + v, id: id))).Status);
        }

        // Instance history: 7 versions in pages of 3.
        var pages = await client.AllPagesAsync($"/fhir/Patient/{id}/_history?_count=3");
        Assert.Equal([3, 3, 1], pages.Select(p => Entries(p).Count));
        var etags = pages.SelectMany(Entries).Select(e => e["response"]!["etag"]!.GetValue<string>()).ToList();
        Assert.Equal(Enumerable.Range(1, 7).Reverse().Select(v => $"W/\"{v}\""), etags);
        Assert.All(pages.Take(2), p => Assert.Contains("_count=3", Link(p, "next")!, StringComparison.Ordinal));

        // Type and system history page through everything too, without repeats.
        foreach (var url in new[] { "/fhir/Patient/_history?_count=4", "/fhir/_history?_count=5" })
        {
            var all = (await client.AllPagesAsync(url, 1000)).SelectMany(Entries)
                .Select(e => $"{e["fullUrl"]} {e["response"]!["etag"]}").ToList();
            Assert.Equal(all.Count, all.Distinct().Count());
            Assert.Equal(7, all.Count(e => e.StartsWith($"http://localhost/fhir/Patient/{id} ", StringComparison.Ordinal)));
        }
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task History_since_returns_only_versions_written_at_or_after_it(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Since1"))).Id;
        var v2 = await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Since2", id: id));
        var since = v2.Json["meta"]!["lastUpdated"]!.GetValue<string>();
        Assert.Equal(200, (await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Since3", id: id))).Status);

        var history = await client.FhirGetAsync($"/fhir/Patient/{id}/_history?_since={Uri.EscapeDataString(since)}");

        Assert.True(history.Status == 200, history.ToString());
        var versions = Entries(history.Json).Select(e => e["resource"]!["meta"]!["versionId"]!.GetValue<string>()).ToList();
        Assert.Equal(["3", "2"], versions);

        var typeHistory = await client.FhirGetAsync($"/fhir/Patient/_history?_since={Uri.EscapeDataString(since)}");
        Assert.DoesNotContain(Entries(typeHistory.Json), e => e["fullUrl"]!.GetValue<string>().EndsWith(id!, StringComparison.Ordinal) && e["response"]!["etag"]!.GetValue<string>() == "W/\"1\"");

        AssertOutcome(await client.FhirGetAsync($"/fhir/Patient/{id}/_history?_since=yesterday"), 400, "_since");
    }
}
