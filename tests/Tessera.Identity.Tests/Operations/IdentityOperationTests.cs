using Hl7.Fhir.Model;
using Tessera.Identity.Tests.Index;
using Tessera.Identity.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Tests.Operations;

public sealed class IdentityOperationTests(IndexFixture fixture) : IClassFixture<IndexFixture>
{
    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Match_returns_scored_graded_records_and_their_master(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var family = People.Surname();
        var nhs = People.NhsNumber();
        var gp = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Florence", family, "1929-09-19", nhs, postcode: "WF1 2AB", line: "5 Bond Street"));
        var (probableGp, _) = await MasterIndexTests.ProbablePairAsync(store, index);
        await index.CatchUpAsync();

        var query = People.Patient(IndexFixture.HospitalSystem, "Florence", family, "1929-09-19", null, postcode: "WF1 2AB", line: "5 Bond Street");
        var response = await store.Send("POST", "Patient/$match", People.Parameters(("count", new Integer(5))).Also(p => p.Parameter.Insert(0, new Parameters.ParameterComponent { Name = "resource", Resource = query })));
        Assert.True(response.Status == 200, Describe(response));
        var bundle = (Bundle)response.Resource!;
        Assert.Equal(Bundle.BundleType.Searchset, bundle.Type);
        var match = Assert.Single(bundle.Entry, e => e.Search.Mode == Bundle.SearchEntryMode.Match);
        Assert.Equal(gp.Id, match.Resource.Id);
        Assert.InRange(match.Search.Score!.Value, 0.95m, 1m);
        Assert.Equal("certain", ((Code)match.Search.GetExtension("http://hl7.org/fhir/StructureDefinition/match-grade").Value).Value);
        var master = Assert.Single(bundle.Entry, e => e.Search.Mode == Bundle.SearchEntryMode.Include);
        Assert.Equal((await store.MasterOfAsync(gp.Id)).Id, master.Resource.Id);

        // A probable match is graded below certain, and left out when only certain matches are asked for.
        var probable = People.Patient(IndexFixture.HospitalSystem, "Beatrice", probableGp.Name[0].Family, DateOnly.Parse(probableGp.BirthDate!, System.Globalization.CultureInfo.InvariantCulture).AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), null, postcode: "YO1 7HH", line: "88 Minster Yard");
        var graded = (Bundle)(await store.Send("POST", "Patient/$match", People.Parameters().Also(p => p.Parameter.Add(new Parameters.ParameterComponent { Name = "resource", Resource = probable })))).Resource!;
        var entry = Assert.Single(graded.Entry, e => e.Search.Mode == Bundle.SearchEntryMode.Match && e.Resource.Id == probableGp.Id);
        Assert.Contains(((Code)entry.Search.GetExtension("http://hl7.org/fhir/StructureDefinition/match-grade").Value).Value, new[] { "probable", "possible" });
        var certainOnly = (Bundle)(await store.Send("POST", "Patient/$match", People.Parameters(("onlyCertainMatches", new FhirBoolean(true))).Also(p => p.Parameter.Add(new Parameters.ParameterComponent { Name = "resource", Resource = probable })))).Resource!;
        Assert.DoesNotContain(certainOnly.Entry, e => e.Resource.Id == probableGp.Id);

        // Bad input is refused with a clear outcome.
        Assert.Equal(400, (await store.Send("POST", "Patient/$match", People.Parameters(("count", new Integer(3))))).Status);
        var noName = new Patient { BirthDate = "1929-09-19" };
        Assert.Equal(422, (await store.Send("POST", "Patient/$match", People.Parameters().Also(p => p.Parameter.Add(new Parameters.ParameterComponent { Name = "resource", Resource = noName })))).Status);
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Pix_gives_every_identifier_of_the_person_and_ITI_83_errors(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var family = People.Surname();
        var nhs = People.NhsNumber();
        var gp = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Albert", family, "1948-12-01", nhs, gender: AdministrativeGender.Male));
        var hospital = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Albert", family, "1948-12-01", nhs, gender: AdministrativeGender.Male));
        await index.CatchUpAsync();
        var gpLocal = gp.Identifier.Single(i => i.System == IndexFixture.GpSystem).Value;
        var hospitalLocal = hospital.Identifier.Single(i => i.System == IndexFixture.HospitalSystem).Value;

        var all = await store.Send("GET", $"Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString($"{IndexFixture.GpSystem}|{gpLocal}")}");
        Assert.True(all.Status == 200, Describe(all));
        var parameters = (Parameters)all.Resource!;
        var identifiers = parameters.Parameter.Where(p => p.Name == "targetIdentifier").Select(p => (Identifier)p.Value).Select(i => $"{i.System}|{i.Value}").ToList();
        Assert.Contains($"{IndexFixture.HospitalSystem}|{hospitalLocal}", identifiers);
        Assert.Contains($"{Tessera.Identity.NhsNumbers.NhsNumber.System}|{nhs}", identifiers);
        Assert.DoesNotContain($"{IndexFixture.GpSystem}|{gpLocal}", identifiers);
        var ids = parameters.Parameter.Where(p => p.Name == "targetId").Select(p => ((ResourceReference)p.Value).Reference).ToList();
        Assert.Contains($"Patient/{hospital.Id}", ids);
        Assert.Contains($"Patient/{(await store.MasterOfAsync(gp.Id)).Id}", ids);

        var onlyHospital = (Parameters)(await store.Send("GET", $"Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString($"{IndexFixture.GpSystem}|{gpLocal}")}&targetSystem={Uri.EscapeDataString(IndexFixture.HospitalSystem)}")).Resource!;
        Assert.Equal([$"{IndexFixture.HospitalSystem}|{hospitalLocal}"], onlyHospital.Parameter.Where(p => p.Name == "targetIdentifier").Select(p => (Identifier)p.Value).Select(i => $"{i.System}|{i.Value}"));
        Assert.Equal([$"Patient/{hospital.Id}"], onlyHospital.Parameter.Where(p => p.Name == "targetId").Select(p => ((ResourceReference)p.Value).Reference));

        Assert.Equal(404, (await store.Send("GET", $"Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString($"{IndexFixture.GpSystem}|no-such-number")}")).Status);
        Assert.Equal(400, (await store.Send("GET", $"Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString("urn:oid:9.9.9|1")}")).Status);
        Assert.Equal(403, (await store.Send("GET", $"Patient/$ihe-pix?sourceIdentifier={Uri.EscapeDataString($"{IndexFixture.GpSystem}|{gpLocal}")}&targetSystem=urn:oid:9.9.9")).Status);
        Assert.Equal(400, (await store.Send("GET", "Patient/$ihe-pix")).Status);
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Merge_and_unmerge_round_trip_with_provenance_inside_a_callers_transaction(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var keep = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Cyril", People.Surname(), "1939-01-01", People.NhsNumber(), gender: AdministrativeGender.Male));
        var partner = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Cyril", keep.Name[0].Family, "1939-01-01", null, gender: AdministrativeGender.Male));
        await index.CatchUpAsync();
        var keepMaster = (await store.MasterOfAsync(keep.Id)).Id;
        Assert.Equal(keepMaster, (await store.MasterOfAsync(partner.Id)).Id);

        // A duplicate registration the matcher could not link (different name and birth date), merged as HL7 A40 does:
        // written and merged in one transaction, before the feed has seen it.
        var duplicate = People.Patient(IndexFixture.HospitalSystem, "Cy", People.Surname(), "1939-10-01", null, gender: AdministrativeGender.Male);
        var merged = await store.WriteAsync(async tx =>
        {
            await store.ExecuteAsync(FhirRequest.FromUrl("PUT", $"Patient/{duplicate.Id}", duplicate), tx);
            return await store.ExecuteAsync(
                FhirRequest.FromUrl("POST", "Patient/$merge", People.Parameters(("source-patient", new ResourceReference($"Patient/{duplicate.Id}")), ("target-patient", new ResourceReference($"Patient/{keep.Id}")))),
                tx);
        });
        Assert.True(merged.Status == 200, Describe(merged));
        var result = (Patient)((Parameters)merged.Resource!).Parameter.Single(p => p.Name == "result").Resource;
        Assert.Equal(keepMaster, result.Id);
        await index.CatchUpAsync();

        var master = await store.ReadAsync<Patient>($"Patient/{keepMaster}");
        Assert.Equal(MasterIndexTests.Refs(keep, partner), master.Linked());
        Assert.Equal([$"Patient/{duplicate.Id}"], master.Linked(Patient.LinkType.ReplacedBy));
        Assert.Equal("1", (await store.ReadAsync<Patient>($"Patient/{duplicate.Id}")).Meta.VersionId);
        var provenance = await MasterIndexTests.SearchAsync<Provenance>(store, $"Provenance?target=Patient/{duplicate.Id}");
        Assert.Contains(provenance, p => p.Activity.Coding[0].Code == "merge");

        // Merged away: $match no longer offers the retired record.
        var again = (Bundle)(await store.Send("POST", "Patient/$match", People.Parameters().Also(p => p.Parameter.Add(new Parameters.ParameterComponent { Name = "resource", Resource = duplicate })))).Resource!;
        Assert.DoesNotContain(again.Entry, e => e.Resource.Id == duplicate.Id);

        var unmerged = await store.Send("POST", $"Patient/{duplicate.Id}/$unmerge", People.Parameters());
        Assert.True(unmerged.Status == 200, Describe(unmerged));
        master = await store.ReadAsync<Patient>($"Patient/{keepMaster}");
        Assert.Equal(MasterIndexTests.Refs(keep, partner), master.Linked());
        Assert.Empty(master.Linked(Patient.LinkType.ReplacedBy));
        var own = await store.MasterOfAsync(duplicate.Id);
        Assert.Equal([$"Patient/{duplicate.Id}"], own.Linked());
        Assert.True(own.Active);
        provenance = await MasterIndexTests.SearchAsync<Provenance>(store, $"Provenance?target=Patient/{duplicate.Id}");
        Assert.Contains(provenance, p => p.Activity.Coding[0].Code == "unmerge");

        // Nothing left to reverse; an automatic link is separated instead, and stays separated.
        Assert.Equal(422, (await store.Send("POST", $"Patient/{duplicate.Id}/$unmerge", People.Parameters())).Status);
        Assert.Equal(200, (await store.Send("POST", "Patient/$unmerge", People.Parameters(("source-patient", new ResourceReference($"Patient/{partner.Id}"))))).Status);
        Assert.NotEqual((await store.MasterOfAsync(keep.Id)).Id, (await store.MasterOfAsync(partner.Id)).Id);
        partner.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Email, null, "cyril@example.org"));
        await store.PutAsync(partner);
        await index.CatchUpAsync();
        Assert.NotEqual((await store.MasterOfAsync(keep.Id)).Id, (await store.MasterOfAsync(partner.Id)).Id);
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Merge_refuses_different_NHS_numbers_and_bad_input_and_changes_nothing(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var a = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Ada", People.Surname(), "1960-03-03", People.NhsNumber()));
        var b = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Ada", People.Surname(), "1961-03-03", People.NhsNumber()));
        await index.CatchUpAsync();
        var before = (await store.MasterOfAsync(a.Id)).Meta.VersionId;

        var refused = await store.Send("POST", "Patient/$merge", People.Parameters(("source-patient", new ResourceReference($"Patient/{b.Id}")), ("target-patient", new ResourceReference($"Patient/{a.Id}"))));
        Assert.Equal(422, refused.Status);
        Assert.Contains("NHS number", Describe(refused), StringComparison.Ordinal);
        Assert.Equal(before, (await store.MasterOfAsync(a.Id)).Meta.VersionId);
        Assert.NotEqual((await store.MasterOfAsync(a.Id)).Id, (await store.MasterOfAsync(b.Id)).Id);

        Assert.Equal(400, (await store.Send("POST", "Patient/$merge", People.Parameters(("target-patient", new ResourceReference($"Patient/{a.Id}"))))).Status);
        Assert.Equal(400, (await store.Send("POST", "Patient/$merge", People.Parameters(("source-patient", new ResourceReference($"Patient/{a.Id}")), ("target-patient", new ResourceReference($"Patient/{a.Id}"))))).Status);
        Assert.Equal(404, (await store.Send("POST", "Patient/$merge", People.Parameters(("source-patient", new ResourceReference("Patient/nobody")), ("target-patient", new ResourceReference($"Patient/{a.Id}"))))).Status);
        var master = (await store.MasterOfAsync(a.Id)).Id;
        Assert.Equal(422, (await store.Send("POST", "Patient/$merge", People.Parameters(("source-patient", new ResourceReference($"Patient/{master}")), ("target-patient", new ResourceReference($"Patient/{b.Id}"))))).Status);
        Assert.Equal(405, (await store.Send("GET", $"Patient/$merge?source-patient=Patient/{a.Id}&target-patient=Patient/{b.Id}")).Status);
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Demographic_search_with_revinclude_finds_the_people(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var family = People.Surname();
        var nhs = People.NhsNumber();
        var gp = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Mabel", family, "1944-04-04", nhs));
        var hospital = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Mabel", family, "1944-04-04", nhs));
        await index.CatchUpAsync();

        var found = await MasterIndexTests.SearchAsync<Patient>(store, $"Patient?family={family}&birthdate=1944-04-04&_revinclude=Patient:link");
        Assert.Equal(3, found.Count);
        var master = Assert.Single(found, p => Tessera.Identity.Index.PatientDemographics.IsMaster(p));
        Assert.Equal(MasterIndexTests.Refs(gp, hospital), master.Linked());
    }

    private static string Describe(FhirResponse response) =>
        $"{response.Status} {(response.Outcome is null ? string.Empty : string.Join("; ", response.Outcome.Issue.Select(i => i.Diagnostics)))}";
}

internal static class ParametersExtensions
{
    public static Parameters Also(this Parameters parameters, Action<Parameters> change)
    {
        change(parameters);
        return parameters;
    }
}
