using Hl7.Fhir.Model;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Governance.Tests.Matrix;

/// <summary>
/// A person's records share their care relationships and consent whatever the order things arrive in: a relationship
/// or consent written after the records were linked reaches the other records, deleting it withdraws it from them,
/// and unlinking a record takes back what the person's other records gave it (the matrix covers links made last).
/// </summary>
public sealed class PersonLinkTests
{
    private static async System.Threading.Tasks.Task WriteAsync(FhirStore store, Resource resource, string method = "PUT")
    {
        var response = await store.ExecuteAsync(new FhirRequest { Method = method, Path = $"{resource.TypeName}/{resource.Id}", Resource = resource });
        Assert.True(response.Status is 200 or 201 or 204, $"{method} {resource.TypeName}/{resource.Id}: {response.Status}");
    }

    private static Patient Master(params string[] records) => MasterOf("m-person", records);

    private static Patient MasterOf(string id, params string[] records)
    {
        var master = new Patient { Id = id, Meta = new Meta { Tag = [new Coding("urn:tessera:mpi", "master")] } };
        foreach (var record in records)
        {
            master.Link.Add(new Patient.LinkComponent { Other = new ResourceReference($"Patient/{record}"), Type = Patient.LinkType.Seealso });
        }

        return master;
    }

    /// <summary>A GP record and a hospital record (with an Observation) of one person, joined by a master.</summary>
    private static async System.Threading.Tasks.Task LinkedRecordsAsync(FhirStore store)
    {
        await WriteAsync(store, new Patient { Id = "gp-record" });
        await WriteAsync(store, new Patient { Id = "hospital-record" });
        await WriteAsync(store, new Observation { Id = "hospital-obs", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Patient/hospital-record") });
        await WriteAsync(store, Master("gp-record", "hospital-record"));
    }

    private static Encounter Visit(string id, Encounter.EncounterStatus status, string patient = "gp-record") => new()
    {
        Id = id,
        Status = status,
        Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"),
        Subject = new ResourceReference($"Patient/{patient}"),
        ServiceProvider = new ResourceReference(Callers.OrgA),
    };

    /// <summary>An opt-out of sharing recorded on the GP record.</summary>
    private static Consent OptOut(string id) => new()
    {
        Id = id,
        Status = Consent.ConsentState.Active,
        Scope = new CodeableConcept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
        Category = [new CodeableConcept("http://loinc.org", "59284-0")],
        Patient = new ResourceReference("Patient/gp-record"),
        Provision = new Consent.provisionComponent { Type = Consent.ConsentProvisionType.Deny },
    };

    private static async Task<int> GpReadsAsync(FhirStore store, string url) =>
        (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", url))).Status;

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Relationships_and_consent_follow_the_links_as_they_change(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync();
        await LinkedRecordsAsync(store);
        Assert.Equal(403, await GpReadsAsync(store, "Observation/hospital-obs"));

        // A relationship with the practice, made on one record after the link: the person's other records share it.
        await WriteAsync(store, Visit("visit", Encounter.EncounterStatus.InProgress));
        Assert.Equal(200, await GpReadsAsync(store, "Observation/hospital-obs"));
        Assert.Equal(200, await GpReadsAsync(store, "Patient/m-person"));

        // An opt-out recorded on the GP record covers the hospital's data too, until it is withdrawn.
        await WriteAsync(store, OptOut("opt-out"));
        Assert.Equal(403, await GpReadsAsync(store, "Observation/hospital-obs"));
        Assert.Equal(204, (await store.ExecuteAsync(FhirRequest.FromUrl("DELETE", "Consent/opt-out"))).Status);
        Assert.Equal(200, await GpReadsAsync(store, "Observation/hospital-obs"));

        // Unlinked, the hospital record keeps only its own relationships (none), while the master keeps the practice's.
        await WriteAsync(store, Master("gp-record"));
        Assert.Equal(403, await GpReadsAsync(store, "Observation/hospital-obs"));
        Assert.Equal(200, await GpReadsAsync(store, "Patient/m-person"));

        // Ending the encounter ends the relationship on every record that shared it.
        await WriteAsync(store, Visit("visit", Encounter.EncounterStatus.Finished));
        Assert.Equal(403, await GpReadsAsync(store, "Patient/m-person"));
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task A_record_of_two_people_keeps_what_the_other_person_gives_it_when_one_person_changes(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync();
        foreach (var id in (string[])["a-record", "a-second-record", "shared-record", "b-record"])
        {
            await WriteAsync(store, new Patient { Id = id });
        }

        await WriteAsync(store, new Observation { Id = "shared-obs", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Patient/shared-record") });
        await WriteAsync(store, MasterOf("m-a", "a-record", "shared-record"));
        await WriteAsync(store, MasterOf("m-b", "b-record", "shared-record"));
        await WriteAsync(store, Visit("b-visit", Encounter.EncounterStatus.InProgress, "b-record"));
        Assert.Equal(200, await GpReadsAsync(store, "Observation/shared-obs"));

        // Person A changes: its records' copies are worked out again, and the shared record keeps what B gives it...
        await WriteAsync(store, MasterOf("m-a", "a-record", "a-second-record", "shared-record"));
        Assert.Equal(200, await GpReadsAsync(store, "Observation/shared-obs"));

        // ...while A's own records get nothing of B's through it: copies are not copied on.
        Assert.Equal(403, await GpReadsAsync(store, "Patient/a-record"));
        Assert.Equal(403, await GpReadsAsync(store, "Patient/a-second-record"));
        Assert.Equal(200, await GpReadsAsync(store, "Patient/b-record"));

        // Each copy is held once, however often the people around it change.
        await WriteAsync(store, MasterOf("m-b", "b-record", "shared-record", "a-second-record"));
        await WriteAsync(store, MasterOf("m-a", "a-record", "shared-record"));
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = FhirStore.Command(connection, "SELECT COUNT(*) - COUNT(DISTINCT patient_key || ' ' || party || ' ' || basis || ' ' || source_id || ' ' || via) FROM gov_relationship WHERE via IS NOT NULL");
        Assert.Equal(0L, Convert.ToInt64(await cmd.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(200, await GpReadsAsync(store, "Observation/shared-obs"));
        Assert.Equal(200, await GpReadsAsync(store, "Patient/a-second-record"));
        Assert.Equal(403, await GpReadsAsync(store, "Patient/a-record"));
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task A_bulk_load_into_linked_records_shares_its_relationships_and_consent(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync();
        await LinkedRecordsAsync(store);

        await store.BulkLoadAsync(Bulk(Visit("loaded-visit", Encounter.EncounterStatus.InProgress)));
        Assert.Equal(200, await GpReadsAsync(store, "Observation/hospital-obs"));

        await store.BulkLoadAsync(Bulk(OptOut("loaded-opt-out")));
        Assert.Equal(403, await GpReadsAsync(store, "Observation/hospital-obs"));
    }

    private static async IAsyncEnumerable<RecordStore.Bulk.BulkItem> Bulk(Resource resource)
    {
        await System.Threading.Tasks.Task.Yield();
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        bundle.Entry.Add(new Bundle.EntryComponent { Resource = resource, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{resource.TypeName}/{resource.Id}" } });
        yield return new RecordStore.Bulk.BulkItem(bundle, resource.Id!);
    }
}
