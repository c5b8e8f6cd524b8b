using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.Identity.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.Testing;
using FhirTask = Hl7.Fhir.Model.Task;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Tests.Index;

public sealed class RebuildTests
{
    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Rebuild_rematches_with_the_model_in_use_keeps_peoples_decisions_and_is_idempotent(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var index = await store.AddIdentityAsync();

        // A probable pair under the built-in thresholds: sent for review, not linked.
        var (gp, hospital) = await MasterIndexTests.ProbablePairAsync(store, index);
        var review = Assert.Single(await MasterIndexTests.OpenReviewsAsync(store, hospital.Id));
        var probability = (double)((FhirDecimal)review.Input.Single(i => i.Type.Coding[0].Code == "probability").Value).Value!.Value;

        // Two unlike records a person merged, and two alike records a person separated.
        var merged = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Ada", People.Surname(), "1950-01-20"));
        var survivor = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Grace", People.Surname(), "1961-09-13"));
        var twinFamily = People.Surname();
        var nhs = People.NhsNumber();
        var first = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Edith", twinFamily, "1944-04-14", nhs, postcode: "LS2 9JT", line: "1 Park Place"));
        var second = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Edith", twinFamily, "1944-04-14", nhs, postcode: "LS2 9JT", line: "1 Park Place"));
        await index.CatchUpAsync();
        Assert.Equal(200, (await store.Send("POST", "Patient/$merge", People.Parameters(("source-patient", new ResourceReference($"Patient/{merged.Id}")), ("target-patient", new ResourceReference($"Patient/{survivor.Id}"))))).Status);
        Assert.Equal((await store.MasterOfAsync(first.Id)).Id, (await store.MasterOfAsync(second.Id)).Id);
        Assert.Equal(200, (await store.Send("POST", $"Patient/{second.Id}/$unmerge")).Status);
        var before = new[] { (await store.MasterOfAsync(gp.Id)).Id, (await store.MasterOfAsync(hospital.Id)).Id };

        // The same store with looser thresholds (as after training a new model): the pair now links.
        var loose = await MasterPatientIndex.OpenAsync(store, new MpiOptions { AutoLinkProbability = probability * 0.9, ReviewProbability = probability * 0.5 });
        var stages = new List<string>();
        var summary = await loose.RebuildAsync(new SyncProgress(p => stages.Add(p.Stage)));

        Assert.Equal(6, summary.Records);
        Assert.Equal(4, summary.Masters); // gp+hospital, merged+survivor, first, second
        Assert.Equal(1, summary.RecordsMoved);
        Assert.Equal(1, summary.MastersRetired);
        Assert.Equal(0, summary.ReviewItemsOpened);
        Assert.Equal(0, summary.OpenReviews);
        Assert.Contains("Comparing candidate pairs", stages);

        // One of the two masters now holds both records; the other is kept, inactive, replaced-by it.
        var person = await store.MasterOfAsync(gp.Id);
        Assert.Equal(MasterIndexTests.Refs(gp, hospital), person.Linked());
        Assert.Contains(person.Id, before);
        var replaced = await store.ReadAsync<Patient>($"Patient/{before.Single(id => id != person.Id)}");
        Assert.False(replaced.Active);
        Assert.Equal([$"Patient/{person.Id}"], replaced.Linked(Patient.LinkType.ReplacedBy));

        // The review is moot now: withdrawn, with the reason.
        var withdrawn = await store.ReadAsync<FhirTask>($"Task/{review.Id}");
        Assert.Equal(FhirTask.TaskStatus.Cancelled, withdrawn.Status);
        Assert.Contains("rebuild", withdrawn.StatusReason.Text, StringComparison.Ordinal);

        // People's decisions stand against the scores.
        Assert.Equal(MasterIndexTests.Refs(merged, survivor), (await store.MasterOfAsync(survivor.Id)).Linked().Concat((await store.MasterOfAsync(survivor.Id)).Linked(Patient.LinkType.ReplacedBy)).Order(StringComparer.Ordinal));
        Assert.NotEqual((await store.MasterOfAsync(first.Id)).Id, (await store.MasterOfAsync(second.Id)).Id);

        var provenance = await SearchAsync<Provenance>(store, $"Provenance?target=Patient/{person.Id}");
        Assert.Contains(provenance, p => p.Activity.Coding[0].Code == "link" && p.Reason[0].Text.Contains("rebuild", StringComparison.Ordinal));

        // Again: nothing to change.
        var version = person.Meta.VersionId;
        var again = await loose.RebuildAsync();
        Assert.Equal((0L, 0L, 0L, 0L, 4L), (again.RecordsMoved, again.MastersWritten, again.MastersRetired, again.ReviewItemsOpened, again.Masters));
        Assert.Equal(version, (await store.MasterOfAsync(gp.Id)).Meta.VersionId);
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Rebuild_indexes_what_the_feed_has_not_reached_and_opens_reviews_for_probable_matches(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var family = People.Surname();
        var born = People.BirthDate();
        var gp = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Beatrice", family, born.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), People.NhsNumber(), postcode: "HX1 1AA", line: "3 Mill Lane"));
        var hospital = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Beatrice", family, born.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), null, postcode: "YO1 7HH", line: "88 Minster Yard"));

        // Written before the index existed; the feed never ran. Review at a high bar first, so nothing is opened.
        var strict = await store.AddIdentityAsync(new MpiOptions { ReviewProbability = 0.999999, AutoLinkProbability = 0.9999999 });
        var summary = await strict.RebuildAsync();
        Assert.Equal((2L, 2L, 0L), (summary.Records, summary.Masters, summary.ReviewItemsOpened));

        // With the built-in thresholds the pair is probable: the rebuild opens one review, and only once.
        var index = await MasterPatientIndex.OpenAsync(store);
        summary = await index.RebuildAsync();
        Assert.Equal((2L, 2L, 1L, 1L, 0L), (summary.Records, summary.Masters, summary.ReviewItemsOpened, summary.OpenReviews, summary.RecordsMoved));
        var reviews = (await MasterIndexTests.OpenReviewsAsync(store, gp.Id)).Concat(await MasterIndexTests.OpenReviewsAsync(store, hospital.Id)).ToList();
        Assert.Single(reviews);
        Assert.Equal(0, (await index.RebuildAsync()).ReviewItemsOpened);
    }

    private static async Task<List<T>> SearchAsync<T>(FhirStore store, string url)
        where T : Resource
    {
        var response = await store.Send("GET", url);
        Assert.Equal(200, response.Status);
        return ((Bundle)response.Resource!).Entry.Select(e => e.Resource).OfType<T>().ToList();
    }

    /// <summary>Reports progress on the reporting thread (Progress&lt;T&gt; would post it later).</summary>
    private sealed class SyncProgress(Action<RebuildProgress> report) : IProgress<RebuildProgress>
    {
        public void Report(RebuildProgress value) => report(value);
    }
}
