using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>Search over HTTP (FHIR R4 3.1.0.8): GET and POST _search, lenient and strict handling, paging links.</summary>
public class SearchContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Get_search_by_family_returns_a_searchset(string backend)
    {
        var client = hosts[backend];
        var family = "Search" + Unique();
        var a = (await client.CreateAsync("Patient", Patient(family, given: "Ann"))).Id;
        var b = (await client.CreateAsync("Patient", Patient(family, given: "Bob"))).Id;
        await client.CreateAsync("Patient", Patient("Other" + Unique()));

        var result = await client.FhirGetAsync($"/fhir/Patient?family={family}");

        Assert.True(result.Status == 200, result.ToString());
        Assert.Equal(FhirHttp.FhirJson, result.ContentType);
        Assert.Equal("searchset", result.Json["type"]!.GetValue<string>());
        Assert.Equal(2, result.Json["total"]!.GetValue<int>());
        var matches = Entries(result.Json).Where(e => e["search"]?["mode"]?.GetValue<string>() == "match").ToList();
        Assert.Equal(new[] { a, b }.Order(StringComparer.Ordinal), matches.Select(e => e["resource"]!["id"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.All(matches, e => Assert.Equal($"http://localhost/fhir/Patient/{e["resource"]!["id"]}", e["fullUrl"]!.GetValue<string>()));
        Assert.Contains($"family={family}", Link(result.Json, "self")!, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Post_search_with_a_form_body_matches_get(string backend)
    {
        var client = hosts[backend];
        var family = "PostSearch" + Unique();
        await client.CreateAsync("Patient", Patient(family, given: "Cy"));
        await client.CreateAsync("Patient", Patient(family, given: "Di"));

        var result = await client.SendAsync("POST", "/fhir/Patient/_search", $"family={family}&given=Cy", "application/x-www-form-urlencoded");

        Assert.True(result.Status == 200, result.ToString());
        Assert.Equal(1, result.Json["total"]!.GetValue<int>());
        Assert.Equal("Cy", Entries(result.Json)[0]["resource"]!["name"]![0]!["given"]![0]!.GetValue<string>());

        var mixed = await client.SendAsync("POST", $"/fhir/Patient/_search?family={family}", "given=Di", "application/x-www-form-urlencoded");
        Assert.Equal(1, mixed.Json["total"]!.GetValue<int>());

        AssertOutcome(await client.SendAsync("POST", "/fhir/Patient/_search", $$"""{"family":"{{family}}"}""", FhirHttp.FhirJson), 415);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task An_unknown_parameter_is_ignored_and_reported_unless_handling_is_strict(string backend)
    {
        var client = hosts[backend];
        var family = "Lenient" + Unique();
        await client.CreateAsync("Patient", Patient(family));

        var lenient = await client.FhirGetAsync($"/fhir/Patient?family={family}&shoe-size=9");

        Assert.True(lenient.Status == 200, lenient.ToString());
        Assert.Equal(1, lenient.Json["total"]!.GetValue<int>());
        Assert.DoesNotContain("shoe-size", Link(lenient.Json, "self")!, StringComparison.Ordinal);
        var outcome = Assert.Single(Entries(lenient.Json), e => e["search"]?["mode"]?.GetValue<string>() == "outcome");
        Assert.Contains("shoe-size", outcome["resource"]!.ToJsonString(), StringComparison.Ordinal);

        var strict = await client.FhirGetAsync($"/fhir/Patient?family={family}&shoe-size=9", ("Prefer", "handling=strict"));
        AssertOutcome(strict, 400, "shoe-size");

        var strictKnown = await client.FhirGetAsync($"/fhir/Patient?family={family}", ("Prefer", "handling=strict"));
        Assert.Equal(200, strictKnown.Status);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Paging_links_reach_every_match_once(string backend)
    {
        var client = hosts[backend];
        var family = "Paged" + Unique();
        var ids = new List<string>();
        for (var i = 0; i < 7; i++)
        {
            ids.Add((await client.CreateAsync("Patient", Patient(family, given: "G" + i))).Id!);
        }

        var pages = await client.AllPagesAsync($"/fhir/Patient?family={family}&_count=3");

        Assert.Equal([3, 3, 1], pages.Select(p => Entries(p).Count));
        var found = pages.SelectMany(Entries).Select(e => e["resource"]!["id"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Order(StringComparer.Ordinal), found.Order(StringComparer.Ordinal));
        Assert.Equal(7, pages[0]["total"]!.GetValue<int>());
        Assert.All(pages, p => Assert.True(p["total"] is null || p["total"]!.GetValue<int>() == 7, "a total, when given, counts every match"));
        Assert.All(pages, p => Assert.Contains($"family={family}", Link(p, "self")!, StringComparison.Ordinal));
        Assert.All(pages.Take(2), p => Assert.Contains("_count=3", Link(p, "next")!, StringComparison.Ordinal));

        var sorted = await client.AllPagesAsync($"/fhir/Patient?family={family}&_count=2&_sort=given");
        Assert.Equal(
            Enumerable.Range(0, 7).Select(i => "G" + i),
            sorted.SelectMany(Entries).Select(e => e["resource"]!["name"]![0]!["given"]![0]!.GetValue<string>()));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Search_results_come_as_xml_when_asked(string backend)
    {
        var client = hosts[backend];
        var family = "XmlSearch" + Unique();
        await client.CreateAsync("Patient", Patient(family));

        var result = await client.FhirGetAsync($"/fhir/Patient?family={family}&_format=xml");

        Assert.Equal(200, result.Status);
        Assert.Equal(FhirHttp.FhirXml, result.ContentType);
        Assert.Contains(family, result.Body, StringComparison.Ordinal);
    }
}
