using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.Identity.Matching;
using Tessera.Identity.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.Testing;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Tests.Index;

/// <summary>Source records written into the index in bulk are indexed, matched and rebuilt like those the feed indexes.</summary>
public sealed class SourceImportTests
{
    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Bulk_imported_records_are_checked_found_by_match_and_rematched_by_rebuild(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var index = await store.AddIdentityAsync(new MpiOptions { Sources = { ["strict-pas"] = new MpiSourceOptions { InvalidNhsNumber = InvalidNhsNumberPolicy.Quarantine } } });
        var family = People.Surname();
        var nhs = People.NhsNumber();
        PersonRecord Person(string source, string id, string given, string? number) => new(source, id)
        {
            NhsNumber = number,
            GivenNames = given,
            FamilyName = family,
            BirthDate = new DateOnly(1948, 5, 17),
            Sex = RecordedSex.Female,
            Postcode = "LS6 2AB",
            AddressLine = "4 Mill Lane",
            Town = "Leeds",
        };

        // The same person filed under two masters (as an older model left her), a stranger, two invalid numbers.
        var rows = new[]
        {
            new SourceImport(Person("gp", "gp-1", "Agnes", nhs), "m-a", "new"),
            new SourceImport(Person("pas", "pas-1", "Agnes", " " + nhs[..3] + " " + nhs[3..6] + " " + nhs[6..]), "m-b", "new"),
            // The stranger lives elsewhere too: two random test surnames can sound alike, and with her address as well
            // that once made her an automatic match.
            new SourceImport(Person("pas", "pas-2", "Winifred", null) with { FamilyName = People.Surname(), BirthDate = new DateOnly(1990, 1, 2), Postcode = "HX1 5RT", AddressLine = "27 Moor End Road", Town = "Halifax" }, "m-c", "new"),
            new SourceImport(Person("pas", "pas-3", "Agnes", "1234567890") with { BirthDate = new DateOnly(1950, 2, 3), Postcode = "BD1 1AA", AddressLine = "9 High Street", Town = "Bradford" }, "m-d", "new"),
            new SourceImport(Person("strict-pas", "sp-1", "Agnes", "1234567890"), "m-e", "new"),
        };
        Assert.Equal(5, await SourceImports.ImportAsync(index, rows, CancellationToken.None));
        var counts = await index.CountAsync();
        Assert.Equal((5L, 5L, 2L), (counts.SourceRecords, counts.Masters, counts.InvalidNhsNumbers));

        // The live index loads them: a query finds both of her records, not the quarantined one.
        var found = await index.MatchAsync(Person("query", "q", "Agnes", null), 10, CancellationToken.None);
        Assert.Equal(["gp-1", "pas-1"], found.Where(c => c.Decision == MatchDecision.AutoLink).Select(c => c.Record.RecordId).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(found, c => c.Record.RecordId == "sp-1");

        // The rebuild joins her records under one master (written, with the other retired), and leaves the rest.
        var summary = await index.RebuildAsync();
        Assert.Equal((5L, 4L, 1L, 1L), (summary.Records, summary.Masters, summary.RecordsMoved, summary.MastersRetired));
        var master = await store.MasterOfAsync("gp-1");
        Assert.Equal(["Patient/gp-1", "Patient/pas-1"], master.Linked().Order(StringComparer.Ordinal));
        var retired = await store.ReadAsync<Patient>($"Patient/{(master.Id == "m-a" ? "m-b" : "m-a")}");
        Assert.False(retired.Active);

        // A record written through the store afterwards is matched against the imported ones.
        var written = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Agnes", family, "1948-05-17", nhs, postcode: "LS6 2AB", line: "4 Mill Lane"));
        await index.CatchUpAsync();
        Assert.Equal(master.Id, (await store.MasterOfAsync(written.Id)).Id);
    }
}
