using System.Text.Json.Nodes;
using Tessera.Web.Tests.Infrastructure;

namespace Tessera.Web.Tests.Identity;

/// <summary>Hosts with the master patient index's background worker running, polling often.</summary>
public sealed class IndexedHosts : FhirHosts
{
    protected override IReadOnlyDictionary<string, string?> Settings => new Dictionary<string, string?>
    {
        ["Tessera:Identity:RunWorker"] = "true",
        ["Tessera:Identity:PollInterval"] = "00:00:00.050",
    };
}

public sealed class MasterIndexHostTests(IndexedHosts hosts) : IClassFixture<IndexedHosts>
{
    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Patients_written_over_HTTP_are_linked_by_the_worker_and_found_by_match(string backend)
    {
        var client = hosts[backend];
        var family = "Zq" + Guid.NewGuid().ToString("N")[..8];
        static string Patient(string system, string family, string postcode) => $$"""
            {"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"},{"system":"{{system}}","value":"{{Guid.NewGuid():N}}"}],
             "name":[{"use":"official","family":"{{family}}","given":["Edith"]}],"gender":"female","birthDate":"1931-04-09",
             "address":[{"use":"home","line":["4 Kirkgate"],"city":"Otley","postalCode":"{{postcode}}"}]}
            """;
        var gp = await client.CreateAsync("Patient", Patient("https://example.org/gp", family, "LS21 3AE"));
        var hospital = await client.CreateAsync("Patient", Patient("https://example.org/pas", family, "LS21 3AE"));

        JsonNode? master = null;
        for (var attempt = 0; attempt < 400 && master is null; attempt++)
        {
            var found = await client.FhirGetAsync($"/fhir/Patient?link=Patient/{hospital.Id}&_tag=urn:tessera:mpi|master");
            master = found.Json["entry"]?.AsArray().FirstOrDefault()?["resource"];
            if (master is null)
            {
                await Task.Delay(50);
            }
        }

        Assert.NotNull(master);
        var links = master["link"]!.AsArray().Select(l => l!["other"]!["reference"]!.GetValue<string>()).Order(StringComparer.Ordinal);
        Assert.Equal(new[] { $"Patient/{gp.Id}", $"Patient/{hospital.Id}" }.Order(StringComparer.Ordinal), links);

        var match = await client.FhirPostAsync("/fhir/Patient/$match", $$"""
            {"resourceType":"Parameters","parameter":[{"name":"resource","resource":{{Patient("https://example.org/other", family, "LS21 3AE")}}},{"name":"onlyCertainMatches","valueBoolean":true}]}
            """);
        Assert.True(match.Status == 200, match.ToString());
        var matches = match.Json["entry"]!.AsArray().Where(e => e!["search"]!["mode"]!.GetValue<string>() == "match").ToList();
        Assert.Equal(2, matches.Count);
        Assert.All(matches, e => Assert.Equal("certain", e!["search"]!["extension"]![0]!["valueCode"]!.GetValue<string>()));
        Assert.Contains(match.Json["entry"]!.AsArray(), e => e!["search"]!["mode"]!.GetValue<string>() == "include" && e["resource"]!["id"]!.GetValue<string>() == master["id"]!.GetValue<string>());
    }
}
