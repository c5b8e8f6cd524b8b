using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>Location near = latitude|longitude|distance|units, by great-circle distance.</summary>
public sealed class NearTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Near_finds_locations_within_the_distance_in_any_unit(string backend)
    {
        var store = fixture[backend];
        var tag = StoreExtensions.Unique("near");
        var london = await Place(store, tag, 51.5074m, -0.1278m);
        var oxford = await Place(store, tag, 51.7520m, -1.2577m);   // about 82 km from London
        var paris = await Place(store, tag, 48.8566m, 2.3522m);     // about 344 km (214 miles) from London
        await store.Send("POST", "Location", new Location { Meta = new Meta { Tag = [new Coding("urn:test", tag)] }, Name = "nowhere" });

        async Task<List<string>> Near(string value) =>
            [.. (await store.SearchAsync($"Location?_tag=urn:test|{tag}&near={value}&_count=50")).Entry.Select(e => e.Resource.Id!).Order()];

        Assert.Equal([london], await Near("51.5074|-0.1278|10|km"));
        Assert.Equal(new[] { london, oxford }.Order(), await Near("51.5074|-0.1278|100|km"));
        Assert.Equal(new[] { london, oxford }.Order(), await Near("51.5074|-0.1278|200|mi"));
        Assert.Equal(new[] { london, oxford, paris }.Order(), await Near("51.5074|-0.1278|250|[mi_i]"));
        Assert.Equal([oxford], await Near("51.75|-1.25|2000|m"));
        Assert.Equal([london], await Near("51.5074|-0.1278"));
        Assert.Equal(400, (await store.Send("GET", "Location?near=91|0|1|km")).Status);
        Assert.Equal(400, (await store.Send("GET", "Location?near=51|0|1|parsecs")).Status);
    }

    private static async Task<string> Place(FhirStore store, string tag, decimal latitude, decimal longitude)
    {
        var location = new Location
        {
            Meta = new Meta { Tag = [new Coding("urn:test", tag)] },
            Position = new Location.PositionComponent { Latitude = latitude, Longitude = longitude },
        };
        var response = await store.Send("POST", "Location", location);
        Assert.Equal(201, response.Status);
        return response.Id!;
    }
}
