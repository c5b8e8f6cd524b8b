using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>Atomic conditional create and If-Match under 50 parallel HTTP requests, on both databases.</summary>
public class ConcurrencyContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    private const int Parallel = 50;

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Fifty_parallel_conditional_creates_make_exactly_one_resource(string backend)
    {
        var client = hosts[backend];
        var system = "urn:test:" + Unique();
        var start = new TaskCompletionSource();
        var requests = Enumerable.Range(0, Parallel).Select(async i =>
        {
            await start.Task;
            return await client.FhirPostAsync("/fhir/Patient", Patient("Race" + i, system, "same"), ("If-None-Exist", $"identifier={system}|same"));
        }).ToList();
        start.SetResult();
        var responses = await Task.WhenAll(requests);

        Assert.All(responses, r => Assert.True(r.Status is 200 or 201, r.ToString()));
        Assert.Single(responses, r => r.Status == 201);
        Assert.Single(responses.Select(r => r.Id).Distinct());
        Assert.All(responses, r => Assert.Equal("W/\"1\"", r.ETag));
        Assert.Equal(1, await client.CountAsync($"Patient?identifier={system}|same"));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Fifty_parallel_puts_with_one_if_match_make_exactly_one_version(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Contended"))).Id;
        var start = new TaskCompletionSource();
        var requests = Enumerable.Range(0, Parallel).Select(async i =>
        {
            await start.Task;
            return await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Writer" + i, id: id), ("If-Match", "W/\"1\""));
        }).ToList();
        start.SetResult();
        var responses = await Task.WhenAll(requests);

        var winner = Assert.Single(responses, r => r.Status == 200);
        Assert.Equal("W/\"2\"", winner.ETag);
        Assert.All(responses.Where(r => r != winner), r => AssertOutcome(r, 412));
        var history = await client.FhirGetAsync($"/fhir/Patient/{id}/_history");
        Assert.Equal(2, Entries(history.Json).Count);
        Assert.Equal(Family(winner.Json), Family((await client.FhirGetAsync($"/fhir/Patient/{id}")).Json));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Fifty_parallel_conditional_updates_make_one_resource_with_fifty_versions(string backend)
    {
        var client = hosts[backend];
        var system = "urn:test:" + Unique();
        var start = new TaskCompletionSource();
        var requests = Enumerable.Range(0, Parallel).Select(async i =>
        {
            await start.Task;
            return await client.FhirPutAsync($"/fhir/Patient?identifier={Uri.EscapeDataString(system + "|u")}", Patient("Upsert" + i, system, "u"));
        }).ToList();
        start.SetResult();
        var responses = await Task.WhenAll(requests);

        Assert.All(responses, r => Assert.True(r.Status is 200 or 201, r.ToString()));
        Assert.Single(responses, r => r.Status == 201);
        Assert.Single(responses.Select(r => r.Id).Distinct());
        Assert.Equal(Enumerable.Range(1, Parallel), responses.Select(r => int.Parse(r.ETag!.Trim('W', '/', '"'), System.Globalization.CultureInfo.InvariantCulture)).Order());
        Assert.Equal(1, await client.CountAsync($"Patient?identifier={system}|u"));
    }
}
