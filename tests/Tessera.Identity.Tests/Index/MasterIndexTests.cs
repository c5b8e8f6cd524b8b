using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.Identity.Review;
using Tessera.Identity.Tests.Infrastructure;
using Tessera.RecordStore;
using FhirTask = Hl7.Fhir.Model.Task;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Tests.Index;

public sealed class MasterIndexTests(IndexFixture fixture) : IClassFixture<IndexFixture>
{
    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Records_of_one_person_from_two_sources_share_one_master_and_stay_as_sent(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var family = People.Surname();
        var nhs = People.NhsNumber();
        var gp = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Margaret", family, "1941-03-12", nhs, postcode: "LS6 2AB", line: "12 Otley Road"));
        var hospital = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Margret", family, "1941-03-12", nhs, postcode: "LS6 3AB", line: "12 Otley Road"));
        var stranger = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Dorothy", People.Surname(), "1956-07-01"));

        await index.CatchUpAsync();

        var master = await store.MasterOfAsync(gp.Id);
        Assert.Equal(Refs(gp, hospital), master.Linked());
        Assert.Contains(master.Meta.Tag, t => t.System == "urn:tessera:mpi" && t.Code == "master");
        Assert.Equal(master.Id, (await store.MasterOfAsync(hospital.Id)).Id);
        Assert.NotEqual(master.Id, (await store.MasterOfAsync(stranger.Id)).Id);

        // The index never writes to a source record: each is still at its first version.
        Assert.Equal("1", (await store.ReadAsync<Patient>($"Patient/{gp.Id}")).Meta.VersionId);
        Assert.Equal("1", (await store.ReadAsync<Patient>($"Patient/{hospital.Id}")).Meta.VersionId);

        // Catching up again finds nothing new and changes nothing.
        var before = (await store.ReadAsync<Patient>($"Patient/{master.Id}")).Meta.VersionId;
        await index.CatchUpAsync();
        Assert.Equal(before, (await store.ReadAsync<Patient>($"Patient/{master.Id}")).Meta.VersionId);
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Different_valid_NHS_numbers_are_never_linked_nor_sent_for_review(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var family = People.Surname();
        var first = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Amelia", family, "2001-05-05", People.NhsNumber(), phone: "07700 900123"));
        var twin = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Amelia", family, "2001-05-05", People.NhsNumber(), phone: "07700 900123"));

        await index.CatchUpAsync();

        Assert.NotEqual((await store.MasterOfAsync(first.Id)).Id, (await store.MasterOfAsync(twin.Id)).Id);
        Assert.Empty(await OpenReviewsAsync(store, twin.Id));
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task An_invalid_NHS_number_is_never_used_and_a_quarantining_source_keeps_the_record_apart(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var family = People.Surname();
        var nhs = People.NhsNumber();
        var invalid = nhs[..9] + (char)('0' + ((nhs[9] - '0' + 1) % 10));
        var gp = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Harold", family, "1938-11-30", nhs, gender: AdministrativeGender.Male));

        // Same person, number mistyped: flagged, matched on the other details alone.
        var flagged = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Harold", family, "1938-11-30", invalid, gender: AdministrativeGender.Male));

        // Same again from a source configured to quarantine invalid numbers: kept apart entirely.
        var strict = await store.PutAsync(People.Patient(IndexFixture.QuarantineSystem, "Harold", family, "1938-11-30", invalid, gender: AdministrativeGender.Male));

        // Someone else who happens to carry the invalid number: the number alone never links.
        var other = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Violet", People.Surname(), "1990-01-02", invalid, postcode: "BD1 1AA", line: "1 Canal Road"));

        await index.CatchUpAsync();

        var master = await store.MasterOfAsync(gp.Id);
        Assert.Equal(Refs(flagged, gp), master.Linked());
        Assert.Equal([$"Patient/{strict.Id}"], (await store.MasterOfAsync(strict.Id)).Linked());
        Assert.Equal([$"Patient/{other.Id}"], (await store.MasterOfAsync(other.Id)).Linked());
        Assert.True((await index.CountAsync()).InvalidNhsNumbers >= 3);
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Records_are_unlinked_when_an_update_brings_a_conflicting_NHS_number_and_dropped_when_deleted(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var family = People.Surname();
        var nhs = People.NhsNumber();
        var gp = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Stanley", family, "1950-02-20", nhs, gender: AdministrativeGender.Male));
        var hospital = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Stanley", family, "1950-02-20", null, gender: AdministrativeGender.Male));
        var social = await store.PutAsync(People.Patient(IndexFixture.QuarantineSystem, "Stanley", family, "1950-02-20", null, gender: AdministrativeGender.Male));
        await index.CatchUpAsync();
        var master = await store.MasterOfAsync(gp.Id);
        Assert.Equal(3, master.Linked().Count());

        // The hospital corrects its record to another person's NHS number: it can no longer be this person.
        hospital.Identifier.Insert(0, new Identifier(Tessera.Identity.NhsNumbers.NhsNumber.System, People.NhsNumber()));
        await store.PutAsync(hospital);
        await store.Send("DELETE", $"Patient/{social.Id}");
        await index.CatchUpAsync();

        Assert.Equal([$"Patient/{gp.Id}"], (await store.MasterOfAsync(gp.Id)).Linked());
        Assert.Equal([$"Patient/{hospital.Id}"], (await store.MasterOfAsync(hospital.Id)).Linked());
        Assert.Empty(await store.MastersOfAsync(social.Id));
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task A_probable_match_becomes_a_review_task_and_the_stewards_decision_is_applied(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var (gp, hospital) = await ProbablePairAsync(store, index);
        var task = Assert.Single(await OpenReviewsAsync(store, hospital.Id));
        Assert.Equal(FhirTask.TaskStatus.Requested, task.Status);
        Assert.Contains(task.Input, i => i.Type.Coding[0].Code == "explanation" && i.Value.ToString()!.Contains("BirthDate", StringComparison.Ordinal));
        Assert.NotEqual((await store.MasterOfAsync(gp.Id)).Id, (await store.MasterOfAsync(hospital.Id)).Id);

        await DecideAsync(store, task, ReviewTasks.SamePerson);
        await index.CatchUpAsync();

        var master = await store.MasterOfAsync(gp.Id);
        Assert.Equal(Refs(gp, hospital), master.Linked());
        var provenance = await SearchAsync<Provenance>(store, $"Provenance?target=Patient/{hospital.Id}");
        Assert.Contains(provenance, p => p.Activity.Coding[0].Code == "link" && p.Entity.Any(e => e.What.Reference == $"Task/{task.Id}"));

        // Reversible: $unmerge undoes the steward's link exactly.
        var undo = await store.Send("POST", "Patient/$unmerge", People.Parameters(("source-patient", new ResourceReference($"Patient/{hospital.Id}"))));
        Assert.Equal(200, undo.Status);
        Assert.NotEqual((await store.MasterOfAsync(gp.Id)).Id, (await store.MasterOfAsync(hospital.Id)).Id);
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task A_rejected_review_keeps_the_records_apart_when_they_are_written_again(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var (gp, hospital) = await ProbablePairAsync(store, index);
        var task = Assert.Single(await OpenReviewsAsync(store, hospital.Id));
        await DecideAsync(store, task, ReviewTasks.DifferentPerson);
        await index.CatchUpAsync();

        // The hospital record is updated to agree even more: still not linked, and not sent for review again.
        hospital.Address[0].PostalCode = gp.Address[0].PostalCode;
        await store.PutAsync(hospital);
        await index.CatchUpAsync();

        Assert.NotEqual((await store.MasterOfAsync(gp.Id)).Id, (await store.MasterOfAsync(hospital.Id)).Id);
        Assert.Empty(await OpenReviewsAsync(store, hospital.Id));
    }

    [Fact]
    public async Task A_Patient_committed_after_later_ones_on_PostgreSQL_is_still_matched()
    {
        var (store, index) = (fixture.Store("postgres"), fixture.Index("postgres"));
        var family = People.Surname();
        var nhs = People.NhsNumber();
        var early = People.Patient(IndexFixture.GpSystem, "Winifred", family, "1933-08-08", nhs);
        var late = People.Patient(IndexFixture.HospitalSystem, "Winifred", family, "1933-08-08", nhs);
        var written = new TaskCompletionSource();
        var release = new TaskCompletionSource();

        // The first writer takes its sequence number, then holds its transaction open.
        var slow = store.WriteAsync(async tx =>
        {
            var response = await store.ExecuteAsync(Tessera.RecordStore.Interactions.FhirRequest.FromUrl("PUT", $"Patient/{early.Id}", early), tx);
            written.TrySetResult();
            await release.Task;
            return response.Status;
        });
        await written.Task;
        await store.PutAsync(late); // a higher sequence number, committed first
        await index.CatchUpAsync();
        Assert.Equal([$"Patient/{late.Id}"], (await store.MasterOfAsync(late.Id)).Linked());

        release.SetResult();
        Assert.Equal(201, await slow);
        await index.CatchUpAsync();

        Assert.Equal(Refs(early, late), (await store.MasterOfAsync(early.Id)).Linked());
    }

    /// <summary>Two records that agree on name, nearly on birth date, and on nothing else: a probable match, not a certain one.</summary>
    internal static async Task<(Patient Gp, Patient Hospital)> ProbablePairAsync(FhirStore store, MasterPatientIndex index)
    {
        var family = People.Surname();
        var born = People.BirthDate();
        var gp = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Beatrice", family, born.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), People.NhsNumber(), postcode: "HX1 1AA", line: "3 Mill Lane"));
        var hospital = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Beatrice", family, born.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), null, postcode: "YO1 7HH", line: "88 Minster Yard"));
        await index.CatchUpAsync();
        return (gp, hospital);
    }

    internal static IEnumerable<string> Refs(params Patient[] patients) => patients.Select(p => $"Patient/{p.Id}").Order(StringComparer.Ordinal);

    internal static async Task<List<FhirTask>> OpenReviewsAsync(FhirStore store, string patientId) =>
        (await SearchAsync<FhirTask>(store, $"Task?focus=Patient/{patientId}&status=requested")).Where(t => t.Code.Coding[0].Code == ReviewTasks.CodeValue).ToList();

    internal static async Task<List<T>> SearchAsync<T>(FhirStore store, string url)
        where T : Resource
    {
        var response = await store.Send("GET", url);
        Assert.True(response.Status == 200, $"GET {url} answered {response.Status}");
        return ((Bundle)response.Resource!).Entry.Select(e => e.Resource).OfType<T>().ToList();
    }

    private static async Task DecideAsync(FhirStore store, FhirTask task, string decision)
    {
        task.Status = FhirTask.TaskStatus.Completed;
        task.BusinessStatus = new CodeableConcept(PatientDemographics.TagSystem, decision);
        task.Owner = new ResourceReference("Practitioner/steward-1");
        var response = await store.Send("PUT", $"Task/{task.Id}", task);
        Assert.Equal(200, response.Status);
    }
}
