using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Bundles;

public class TransactionTests(StoreFixture stores) : IClassFixture<StoreFixture>
{
    private static Bundle.EntryComponent Post(Resource resource, string fullUrl, string? ifNoneExist = null) => new()
    {
        FullUrl = fullUrl,
        Resource = resource,
        Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = resource.TypeName, IfNoneExist = ifNoneExist },
    };

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Transaction_resolves_uuid_references_and_reports_each_entry(string backend)
    {
        var store = stores[backend];
        var system = "urn:test:" + StoreExtensions.Unique();
        var patientUrl = "urn:uuid:" + Guid.NewGuid();
        var encounterUrl = "urn:uuid:" + Guid.NewGuid();
        var bundle = new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Entry =
            [
                // The observation comes first but points at entries later in the bundle.
                Post(new Observation
                {
                    Status = ObservationStatus.Final,
                    Code = new CodeableConcept("http://loinc.org", "8867-4"),
                    Subject = new ResourceReference(patientUrl),
                    Encounter = new ResourceReference(encounterUrl),
                }, "urn:uuid:" + Guid.NewGuid()),
                Post(new Encounter { Status = Encounter.EncounterStatus.Finished, Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"), Subject = new ResourceReference(patientUrl) }, encounterUrl),
                Post(new Patient { Identifier = [new Identifier(system, "p1")], Name = [new HumanName { Family = "Bundle" }] }, patientUrl, $"identifier={system}|p1"),
            ],
        };
        var response = await store.Send("POST", string.Empty, bundle);
        Assert.True(response.Status == 200, StoreExtensions.Describe(response));
        var result = (Bundle)response.Resource!;
        Assert.Equal(Bundle.BundleType.TransactionResponse, result.Type);
        Assert.All(result.Entry, e => Assert.StartsWith("201", e.Response.Status, StringComparison.Ordinal));
        Assert.All(result.Entry, e => Assert.Matches("^[A-Za-z]+/[^/]+/_history/1$", e.Response.Location));

        var patientId = result.Entry[2].Response.Location.Split('/')[1];
        var observation = (await store.Send("GET", result.Entry[0].Response.Location.Split("/_history")[0])).Body<Observation>();
        Assert.Equal($"Patient/{patientId}", observation.Subject.Reference);
        Assert.StartsWith("Encounter/", observation.Encounter.Reference, StringComparison.Ordinal);

        // Sent again, the conditional create matches and the others are new.
        var again = (Bundle)(await store.Send("POST", string.Empty, bundle)).Resource!;
        Assert.StartsWith("200", again.Entry[2].Response.Status, StringComparison.Ordinal);
        var found = await store.SearchAsync($"Patient?identifier={system}|p1");
        Assert.Equal(1, found.Total);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task A_failing_entry_rolls_back_the_whole_transaction(string backend)
    {
        var store = stores[backend];
        var system = "urn:test:" + StoreExtensions.Unique();
        var bundle = new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Entry =
            [
                Post(new Patient { Identifier = [new Identifier(system, "a")] }, "urn:uuid:" + Guid.NewGuid()),
                new Bundle.EntryComponent
                {
                    Resource = new Patient { Id = "mismatch", Identifier = [new Identifier(system, "b")] },
                    Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = "Patient/other-id" },
                },
            ],
        };
        var response = await store.Send("POST", string.Empty, bundle);
        Assert.Equal(400, response.Status);
        Assert.Contains("Bundle.entry[1]", StoreExtensions.Describe(response), StringComparison.Ordinal);
        var found = await store.SearchAsync($"Patient?identifier={system}|");
        Assert.Equal(0, found.Total);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Conditional_references_resolve_to_exactly_one_match(string backend)
    {
        var store = stores[backend];
        var system = "urn:test:" + StoreExtensions.Unique();
        var patient = await store.Send("POST", "Patient", new Patient { Identifier = [new Identifier(system, "x")] });
        var bundle = new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Entry = [Post(new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "1"), Subject = new ResourceReference($"Patient?identifier={system}|x") }, "urn:uuid:" + Guid.NewGuid())],
        };
        var ok = (Bundle)(await store.Send("POST", string.Empty, bundle)).Resource!;
        var obs = (await store.Send("GET", ok.Entry[0].Response.Location.Split("/_history")[0])).Body<Observation>();
        Assert.Equal($"Patient/{patient.Id}", obs.Subject.Reference);

        bundle.Entry[0].Resource = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "1"), Subject = new ResourceReference($"Patient?identifier={system}|nobody") };
        Assert.Equal(412, (await store.Send("POST", string.Empty, bundle)).Status);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Many_updates_and_creates_in_one_transaction_are_all_written_and_searchable(string backend)
    {
        // Large enough that the writes are held back and sent in several batches, and the targets locked together.
        var store = stores[backend];
        var family = StoreExtensions.Unique("bulk");
        var existing = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            existing.Add((await store.Send("POST", "Patient", new Patient { Name = [new HumanName { Family = family + "-old" }] })).Id!);
        }

        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        var newIds = Enumerable.Range(0, 400).Select(_ => StoreExtensions.Unique("p")).ToList();
        foreach (var id in existing.Concat(newIds))
        {
            bundle.Entry.Add(new() { Resource = new Patient { Id = id, Name = [new HumanName { Family = family }] }, Request = new() { Method = Bundle.HTTPVerb.PUT, Url = $"Patient/{id}" } });
        }

        for (var i = 0; i < 300; i++)
        {
            bundle.Entry.Add(Post(new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference($"Patient/{newIds[i]}") }, "urn:uuid:" + Guid.NewGuid()));
        }

        bundle.Entry.Add(new() { Request = new() { Method = Bundle.HTTPVerb.GET, Url = $"Patient?family:exact={family}&_summary=count" } });
        var response = await store.Send("POST", string.Empty, bundle);
        Assert.True(response.Status == 200, StoreExtensions.Describe(response));
        var result = (Bundle)response.Resource!;

        Assert.All(result.Entry.Take(3), e => Assert.StartsWith("200", e.Response.Status, StringComparison.Ordinal));
        Assert.All(result.Entry.Take(3), e => Assert.EndsWith("/_history/2", e.Response.Location, StringComparison.Ordinal));
        Assert.All(result.Entry.Skip(3).Take(400), e => Assert.StartsWith("201", e.Response.Status, StringComparison.Ordinal));
        Assert.All(result.Entry.Skip(403).Take(300), e => Assert.StartsWith("201", e.Response.Status, StringComparison.Ordinal));
        // The GET ran after the held-back writes were sent.
        Assert.Equal(403, ((Bundle)result.Entry[^1].Resource).Total);
        var observations = await store.SearchAsync($"Observation?subject=Patient/{newIds[299]}");
        Assert.Single(observations.Entry);
        Assert.Equal(2, (await store.Send("GET", $"Patient/{existing[0]}")).Version);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task An_if_match_on_a_missing_target_fails_the_whole_transaction(string backend)
    {
        var store = stores[backend];
        var ids = new[] { StoreExtensions.Unique("a"), StoreExtensions.Unique("b") };
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        bundle.Entry.Add(new() { Resource = new Patient { Id = ids[0] }, Request = new() { Method = Bundle.HTTPVerb.PUT, Url = $"Patient/{ids[0]}" } });
        bundle.Entry.Add(new() { Resource = new Patient { Id = ids[1] }, Request = new() { Method = Bundle.HTTPVerb.PUT, Url = $"Patient/{ids[1]}", IfMatch = "W/\"1\"" } });

        var response = await store.Send("POST", string.Empty, bundle);

        Assert.Equal(412, response.Status);
        Assert.Contains("Bundle.entry[1]", StoreExtensions.Describe(response), StringComparison.Ordinal);
        Assert.Equal(404, (await store.Send("GET", $"Patient/{ids[0]}")).Status);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Entries_run_delete_post_put_get_in_that_order(string backend)
    {
        var store = stores[backend];
        var existing = await store.Send("POST", "Patient", new Patient { Name = [new HumanName { Family = "Old" }] });
        var putId = StoreExtensions.Unique("put");
        var bundle = new Bundle
        {
            Type = Bundle.BundleType.Transaction,
            Entry =
            [
                new() { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.GET, Url = $"Patient/{putId}" } },
                new() { Resource = new Patient { Id = putId, Name = [new HumanName { Family = "Put" }] }, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"Patient/{putId}" } },
                new() { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.DELETE, Url = $"Patient/{existing.Id}" } },
            ],
        };
        var result = (Bundle)(await store.Send("POST", string.Empty, bundle)).Resource!;
        // The GET, listed first, ran last and sees the PUT.
        Assert.StartsWith("200", result.Entry[0].Response.Status, StringComparison.Ordinal);
        Assert.Equal("Put", ((Patient)result.Entry[0].Resource).Name[0].Family);
        Assert.StartsWith("201", result.Entry[1].Response.Status, StringComparison.Ordinal);
        Assert.StartsWith("204", result.Entry[2].Response.Status, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Batch_reports_each_entry_on_its_own(string backend)
    {
        var store = stores[backend];
        var bundle = new Bundle
        {
            Type = Bundle.BundleType.Batch,
            Entry =
            [
                new() { Resource = new Patient { Name = [new HumanName { Family = "Batch" }] }, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" } },
                new() { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.GET, Url = "Patient/" + StoreExtensions.Unique() } },
                new() { Resource = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "1") }, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" } },
            ],
        };
        var result = (Bundle)(await store.Send("POST", string.Empty, bundle)).Resource!;
        Assert.Equal(Bundle.BundleType.BatchResponse, result.Type);
        Assert.StartsWith("201", result.Entry[0].Response.Status, StringComparison.Ordinal);
        Assert.StartsWith("404", result.Entry[1].Response.Status, StringComparison.Ordinal);
        Assert.IsType<OperationOutcome>(result.Entry[1].Response.Outcome);
        Assert.StartsWith("400", result.Entry[2].Response.Status, StringComparison.Ordinal);
    }
}
