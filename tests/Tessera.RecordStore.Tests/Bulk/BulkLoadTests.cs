using Hl7.Fhir.Model;
using Tessera.RecordStore.Bulk;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Tests.Infrastructure;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Bulk;

/// <summary>The bulk path writes what transaction processing writes, and leaves to it what it does not do itself.</summary>
public sealed class BulkLoadTests
{
    public static TheoryData<string> Backends => StoreFixture.Backends;

    [Theory]
    [MemberData(nameof(Backends))]
    public async System.Threading.Tasks.Task Loading_again_writes_next_versions_and_replaces_index_rows(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var first = await store.BulkLoadAsync(Items(Person("a", "Ada"), Person("b", "Bea")), new BulkLoadOptions { BatchResources = 3 });
        Assert.Equal((2L, 0L), first.ByType["Patient"]);
        Assert.Equal((2L, 0L), first.ByType["Observation"]);
        Assert.Empty(first.Failures);

        var again = await store.BulkLoadAsync(Items(Person("a", "Ada"), Person("b", "Beatrix")));
        Assert.Equal((0L, 2L), again.ByType["Patient"]);

        var read = await store.ExecuteAsync(FhirRequest.FromUrl("GET", "Patient/pat-b"));
        Assert.Equal("2", FhirStore.Materialise(read).Meta.VersionId);
        Assert.Equal(["pat-b"], await IdsAsync(store, "Patient?name=Beatrix"));
        Assert.Empty(await IdsAsync(store, "Patient?name=Bea&name:exact=Bea"));
        // The urn:uuid reference was resolved to the Patient's id, and the compartment search finds the Observation.
        Assert.Equal(["obs-a"], await IdsAsync(store, "Observation?subject=Patient/pat-a"));
        Assert.Equal(["obs-a"], await IdsAsync(store, "Patient/pat-a/Observation"));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async System.Threading.Tasks.Task The_planner_statistics_are_refreshed_on_demand_and_the_tables_then_have_them(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        await store.BulkLoadAsync(Items(Person("a", "Ada"), Person("b", "Bea")));
        await store.RefreshStatisticsAsync();

        await using var connection = await store.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = backend == "postgres"
            ? "SELECT COUNT(*) FROM pg_stats WHERE tablename = 'idx_string'"
            : "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'idx_string'";
        Assert.True(Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal(["pat-a"], await IdsAsync(store, "Patient?name=Ada"));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async System.Threading.Tasks.Task Bundles_the_fast_path_does_not_take_go_through_transactions_and_a_bad_one_is_reported(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var conditional = new Bundle { Type = Bundle.BundleType.Transaction };
        conditional.Entry.Add(new Bundle.EntryComponent
        {
            Resource = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Patient?identifier=urn:test|a") },
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Observation" },
        });
        var broken = new Bundle { Type = Bundle.BundleType.Transaction };
        broken.Entry.Add(new Bundle.EntryComponent
        {
            Resource = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("urn:uuid:5b0c4c1e-0000-4000-8000-000000000000") },
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Observation" },
        });

        var summary = await store.BulkLoadAsync(Items(Person("a", "Ada"), conditional, broken, Person("b", "Bea")));

        Assert.Equal(2, summary.TransactionBundles);
        var failure = Assert.Single(summary.Failures);
        Assert.Equal("bundle 3", failure.Label);
        Assert.Contains("names no entry", failure.Reason, StringComparison.Ordinal);
        Assert.Equal(2, (await IdsAsync(store, "Observation?subject=Patient/pat-a")).Count);
        Assert.Equal(["pat-a", "pat-b"], await IdsAsync(store, "Patient"));
    }

    [Theory]
    [MemberData(nameof(Backends))]
    public async System.Threading.Tasks.Task A_load_into_an_empty_store_builds_the_search_indexes_at_its_end_and_opening_a_store_builds_missing_ones(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using (var store = await FhirStore.OpenAsync(db.Location))
        {
            var first = await store.BulkLoadAsync(Items(Person("a", "Ada")));
            Assert.True(first.BuildingIndexes > TimeSpan.Zero);
            Assert.Equal(14, await IndexCountAsync(store, backend));

            // Into a store that holds resources, the indexes are kept up row by row.
            var second = await store.BulkLoadAsync(Items(Person("b", "Bea")));
            Assert.Equal(TimeSpan.Zero, second.BuildingIndexes);
            Assert.Equal(["pat-b"], await IdsAsync(store, "Patient?name=Bea"));

            // As a load stopped before its end leaves them.
            await using var connection = await store.OpenConnectionAsync();
            await using var drop = connection.CreateCommand();
            drop.CommandText = "DROP INDEX ix_idx_string_value; DROP INDEX ix_idx_token_res";
            await drop.ExecuteNonQueryAsync();
            Assert.Equal(12, await IndexCountAsync(store, backend));
        }

        await using var reopened = await FhirStore.OpenAsync(db.Location);
        Assert.Equal(14, await IndexCountAsync(reopened, backend));
        Assert.Equal(["pat-a"], await IdsAsync(reopened, "Patient?name=Ada"));
    }

    private static async Task<long> IndexCountAsync(FhirStore store, string backend)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = backend == "postgres"
            ? "SELECT COUNT(*) FROM pg_indexes WHERE indexname LIKE 'ix\\_idx\\_%'"
            : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix\\_idx\\_%' ESCAPE '\\'";
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static Bundle Person(string key, string name)
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        bundle.Entry.Add(new Bundle.EntryComponent
        {
            FullUrl = $"urn:uuid:00000000-0000-4000-8000-00000000000{key[0] - 'a'}",
            Resource = new Patient { Name = [new HumanName { Family = name }], Identifier = [new Identifier("urn:test", key)] },
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"Patient/pat-{key}" },
        });
        bundle.Entry.Add(new Bundle.EntryComponent
        {
            Resource = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference($"urn:uuid:00000000-0000-4000-8000-00000000000{key[0] - 'a'}") },
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"Observation/obs-{key}" },
        });
        return bundle;
    }

    private static async IAsyncEnumerable<BulkItem> Items(params Bundle[] bundles)
    {
        await System.Threading.Tasks.Task.Yield();
        for (var i = 0; i < bundles.Length; i++)
        {
            yield return new BulkItem(bundles[i], $"bundle {i + 1}");
        }
    }

    private static async Task<List<string>> IdsAsync(FhirStore store, string url)
    {
        var bundle = (Bundle)FhirStore.Materialise(await store.ExecuteAsync(FhirRequest.FromUrl("GET", url)));
        return [.. bundle.Entry.Select(e => e.Resource.Id).Order(StringComparer.Ordinal)];
    }
}
