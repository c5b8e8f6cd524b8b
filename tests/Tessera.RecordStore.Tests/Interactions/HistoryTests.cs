using Hl7.Fhir.Model;
using Microsoft.Extensions.Time.Testing;
using Tessera.RecordStore.Storage;
using Tessera.RecordStore.Tests.Infrastructure;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Interactions;

public class HistoryTests
{
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task History_filters_by_since_and_at_and_pages(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        var clock = new FakeTimeProvider(new DateTimeOffset(2024, 1, 1, 9, 0, 0, TimeSpan.Zero));
        await using var store = await FhirStore.OpenAsync(db.Location, clock: clock);

        var created = await store.Send("POST", "Patient", new Patient { Name = [new HumanName { Family = "v1" }] });
        var id = created.Id!;
        clock.Advance(TimeSpan.FromDays(1)); // 2024-01-02
        await store.Send("PUT", $"Patient/{id}", new Patient { Id = id, Name = [new HumanName { Family = "v2" }] });
        clock.Advance(TimeSpan.FromDays(1)); // 2024-01-03
        await store.Send("PUT", $"Patient/{id}", new Patient { Id = id, Name = [new HumanName { Family = "v3" }] });
        await store.Send("POST", "Observation", new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "1") });

        var since = (Bundle)(await store.Send("GET", $"Patient/{id}/_history?_since=2024-01-02T00:00:00Z")).Resource!;
        Assert.Equal(["3", "2"], since.Entry.Select(e => ((Patient)e.Resource).Meta.VersionId));

        var at = (Bundle)(await store.Send("GET", $"Patient/{id}/_history?_at=2024-01-02T12:00:00Z")).Resource!;
        Assert.Equal(["2"], at.Entry.Select(e => ((Patient)e.Resource).Meta.VersionId));

        var typeHistory = (Bundle)(await store.Send("GET", "Patient/_history")).Resource!;
        Assert.Equal(3, typeHistory.Entry.Count);
        var system = (Bundle)(await store.Send("GET", "_history")).Resource!;
        Assert.Equal(4, system.Entry.Count);

        // Paging: one version per page, newest first, following next links.
        var seen = new List<string?>();
        var url = $"Patient/{id}/_history?_count=1";
        while (url is not null)
        {
            var page = (Bundle)(await store.Send("GET", url)).Resource!;
            seen.AddRange(page.Entry.Select(e => ((Patient)e.Resource).Meta.VersionId));
            var next = page.Link.FirstOrDefault(l => l.Relation == "next")?.Url;
            url = next is null ? null : next[(next.IndexOf("/fhir/", StringComparison.Ordinal) + 6)..];
        }

        Assert.Equal(["3", "2", "1"], seen);
        Assert.Equal(400, (await store.Send("GET", $"Patient/{id}/_history?_since=yesterday")).Status);
        Assert.Equal(404, (await store.Send("GET", "Patient/nobody/_history")).Status);
    }
}
