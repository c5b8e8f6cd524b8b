using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Interactions;

public class CrudTests(StoreFixture stores) : IClassFixture<StoreFixture>
{
    private static Patient NewPatient(string family) => new()
    {
        Name = [new HumanName { Family = family, Given = ["Ada"] }],
        Gender = AdministrativeGender.Female,
        BirthDate = "1950-04-12",
    };

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Create_read_update_delete_keeps_every_version(string backend)
    {
        var store = stores[backend];
        var created = await store.Send("POST", "Patient", NewPatient("Lovelace"));
        Assert.Equal(201, created.Status);
        Assert.Equal(1, created.Version);
        var id = created.Id!;
        Assert.Equal($"W/\"1\"", created.ETag);
        Assert.EndsWith($"/Patient/{id}/_history/1", created.Location("http://x/fhir"));

        var read = await store.Send("GET", $"Patient/{id}");
        Assert.Equal(200, read.Status);
        var patient = read.Body<Patient>();
        Assert.Equal("1", patient.Meta.VersionId);
        Assert.Equal("Lovelace", patient.Name[0].Family);

        patient.Name[0].Family = "King";
        var updated = await store.Send("PUT", $"Patient/{id}", patient);
        Assert.Equal(200, updated.Status);
        Assert.Equal(2, updated.Version);

        var v1 = await store.Send("GET", $"Patient/{id}/_history/1");
        Assert.Equal("Lovelace", v1.Body<Patient>().Name[0].Family);
        var v2 = await store.Send("GET", $"Patient/{id}/_history/2");
        Assert.Equal("King", v2.Body<Patient>().Name[0].Family);
        Assert.Equal(404, (await store.Send("GET", $"Patient/{id}/_history/3")).Status);

        var deleted = await store.Send("DELETE", $"Patient/{id}");
        Assert.Equal(204, deleted.Status);
        Assert.Equal(3, deleted.Version);
        Assert.Equal(410, (await store.Send("GET", $"Patient/{id}")).Status);
        Assert.Equal(410, (await store.Send("GET", $"Patient/{id}/_history/3")).Status);
        Assert.Equal(200, (await store.Send("GET", $"Patient/{id}/_history/2")).Status);

        // Deleting again changes nothing.
        var again = await store.Send("DELETE", $"Patient/{id}");
        Assert.Equal(204, again.Status);
        Assert.Null(again.Version);

        var history = (Bundle)(await store.Send("GET", $"Patient/{id}/_history")).Resource!;
        Assert.Equal(Bundle.BundleType.History, history.Type);
        Assert.Equal(["3", "2", "1"], history.Entry.Select(e => e.Response.Etag.Trim('W', '/', '"')));
        Assert.Null(history.Entry[0].Resource);
        Assert.Equal(Bundle.HTTPVerb.DELETE, history.Entry[0].Request.Method);

        // A resurrecting update after deletion creates version 4.
        var revived = await store.Send("PUT", $"Patient/{id}", patient);
        Assert.Equal(201, revived.Status);
        Assert.Equal(4, revived.Version);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Update_as_create_uses_the_clients_id(string backend)
    {
        var store = stores[backend];
        var id = StoreExtensions.Unique("client");
        var patient = NewPatient("Hopper");
        patient.Id = id;
        var first = await store.Send("PUT", $"Patient/{id}", patient);
        Assert.Equal(201, first.Status);
        Assert.Equal(id, first.Id);
        var second = await store.Send("PUT", $"Patient/{id}", patient);
        Assert.Equal(200, second.Status);
        Assert.Equal(2, second.Version);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Server_owns_meta_version_and_last_updated(string backend)
    {
        var store = stores[backend];
        var patient = NewPatient("Meta");
        patient.Meta = new Meta { VersionId = "99", LastUpdated = new DateTimeOffset(2001, 1, 1, 0, 0, 0, TimeSpan.Zero), Profile = ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient"] };
        var created = await store.Send("POST", "Patient", patient);
        var stored = (await store.Send("GET", $"Patient/{created.Id}")).Body<Patient>();
        Assert.Equal("1", stored.Meta.VersionId);
        Assert.True(stored.Meta.LastUpdated > new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal("https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient", stored.Meta.Profile.Single());
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Preconditions_give_412_and_304(string backend)
    {
        var store = stores[backend];
        var created = await store.Send("POST", "Patient", NewPatient("Turing"));
        var patient = created.Body<Patient>();
        var stale = await store.Send("PUT", $"Patient/{created.Id}", patient, r => r with { IfMatch = "W/\"1\"" });
        Assert.Equal(200, stale.Status);
        var conflict = await store.Send("PUT", $"Patient/{created.Id}", patient, r => r with { IfMatch = "W/\"1\"" });
        Assert.Equal(412, conflict.Status);
        Assert.Contains("current version is 2", StoreExtensions.Describe(conflict), StringComparison.Ordinal);

        var notModified = await store.Send("GET", $"Patient/{created.Id}", adjust: r => r with { IfNoneMatch = "W/\"2\"" });
        Assert.Equal(304, notModified.Status);
        var modified = await store.Send("GET", $"Patient/{created.Id}", adjust: r => r with { IfNoneMatch = "W/\"1\"" });
        Assert.Equal(200, modified.Status);

        var badTag = await store.Send("PUT", $"Patient/{created.Id}", patient, r => r with { IfMatch = "yesterday" });
        Assert.Equal(400, badTag.Status);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Bad_requests_are_refused_and_write_nothing(string backend)
    {
        var store = stores[backend];
        var observation = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4") };
        var wrongType = await store.Send("POST", "Patient", observation);
        Assert.Equal(400, wrongType.Status);
        Assert.Contains("resourceType", wrongType.Outcome!.Issue[0].Expression);

        var p = NewPatient("Mismatch");
        p.Id = "abc";
        var mismatch = await store.Send("PUT", "Patient/xyz", p);
        Assert.Equal(400, mismatch.Status);
        Assert.Contains("Patient.id", mismatch.Outcome!.Issue[0].Expression);

        p.Id = null;
        Assert.Equal(400, (await store.Send("PUT", "Patient/xyz", p)).Status);
        Assert.Equal(400, (await store.Send("GET", "Patient/bad$id")).Status);
        Assert.Equal(404, (await store.Send("GET", "NotAType/1")).Status);
        Assert.Equal(404, (await store.Send("GET", "Patient/" + StoreExtensions.Unique())).Status);
        Assert.Equal(404, (await store.Send("GET", "Patient/xyz")).Status);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Conditional_update_and_delete_follow_the_match_count(string backend)
    {
        var store = stores[backend];
        var system = "urn:test:" + StoreExtensions.Unique();
        var patient = NewPatient("Conditional");
        patient.Identifier = [new Identifier(system, "1")];

        // No match and no id: creates.
        var created = await store.Send("PUT", $"Patient?identifier={system}|1", patient);
        Assert.Equal(201, created.Status);
        // One match: updates it.
        var updated = await store.Send("PUT", $"Patient?identifier={system}|1", patient);
        Assert.Equal(200, updated.Status);
        Assert.Equal(created.Id, updated.Id);
        Assert.Equal(2, updated.Version);

        var twin = NewPatient("Twin");
        twin.Identifier = [new Identifier(system, "1")];
        await store.Send("POST", "Patient", twin);
        // Two matches: refused.
        Assert.Equal(412, (await store.Send("PUT", $"Patient?identifier={system}|1", patient)).Status);
        Assert.Equal(412, (await store.Send("DELETE", $"Patient?identifier={system}|1")).Status);

        Assert.Equal(204, (await store.Send("DELETE", $"Patient/{created.Id}")).Status);
        var deleteOne = await store.Send("DELETE", $"Patient?identifier={system}|1");
        Assert.Equal(204, deleteOne.Status);
        var remaining = await store.SearchAsync($"Patient?identifier={system}|1");
        Assert.Equal(0, remaining.Total);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Conditional_create_returns_the_existing_match(string backend)
    {
        var store = stores[backend];
        var system = "urn:test:" + StoreExtensions.Unique();
        var patient = NewPatient("Once");
        patient.Identifier = [new Identifier(system, "42")];
        var first = await store.Send("POST", "Patient", patient, r => r with { IfNoneExist = $"identifier={system}|42" });
        Assert.Equal(201, first.Status);
        var second = await store.Send("POST", "Patient", patient, r => r with { IfNoneExist = $"identifier={system}|42" });
        Assert.Equal(200, second.Status);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(1, second.Version);
        var unknownParam = await store.Send("POST", "Patient", patient, r => r with { IfNoneExist = "shoe-size=42" });
        Assert.Equal(400, unknownParam.Status);
    }
}
