using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Tessera.Demo.Loading;
using Tessera.Governance;
using Tessera.Identity.Index;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Demo.Tests.Loading;

/// <summary>
/// The bulk-loaded region is the region the normal transaction processing loads: the same resources and versions,
/// the same index rows and search answers, the same governance relationships and the same master patient index.
/// </summary>
public sealed partial class RegionLoaderTests
{
    private const int People = 6;

    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    [Theory]
    [MemberData(nameof(Backends))]
    public async System.Threading.Tasks.Task Bulk_load_equals_loading_bundle_by_bundle_whatever_the_parallelism(string backend)
    {
        await using var normal = await Loaded.CreateAsync(backend, async (store, generator) =>
        {
            foreach (var bundle in generator.Bundles())
            {
                var response = await store.ExecuteAsync(new FhirRequest { Method = "POST", Path = string.Empty, Resource = bundle });
                Assert.True(response.Resource is Bundle, $"a bundle was refused: {response.Outcome?.Issue.FirstOrDefault()?.Diagnostics}");
            }
        });
        await using var bulk = await Loaded.CreateAsync(backend, async (store, generator) =>
        {
            var summary = await RegionLoader.LoadAsync(store, generator, null, parallelism: 3);
            Assert.Empty(summary.Failures);
            Assert.Equal(People, summary.People);
            Assert.Equal(0, summary.Load.TransactionBundles);
        });
        await using var serial = await Loaded.CreateAsync(backend, (store, generator) => RegionLoader.LoadAsync(store, generator, null, parallelism: 1));

        var expected = await normal.SnapshotAsync();
        Assert.True(expected.Resources.Count > 300, $"the region is big enough to say something ({expected.Resources.Count} resources)");
        Assert.Contains(expected.Relationships, r => r.Contains("|registered|", StringComparison.Ordinal));
        Assert.NotEmpty(expected.Masters);
        foreach (var other in new[] { bulk, serial })
        {
            var actual = await other.SnapshotAsync();
            Assert.Equal(expected.Resources, actual.Resources);
            Assert.Equal(expected.IndexRows, actual.IndexRows);
            Assert.Equal(expected.Searches, actual.Searches);
            Assert.Equal(expected.Relationships, actual.Relationships);
            Assert.Equal(expected.Masters, actual.Masters);
        }
    }

    private sealed record Snapshot(List<string> Resources, List<string> IndexRows, List<string> Searches, List<string> Relationships, List<string> Masters);

    private sealed partial class Loaded : IAsyncDisposable
    {
        private static readonly string[] Searches =
        [
            "Patient?gender=female&_count=1000",
            "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|&_count=1000",
            "Encounter?class=EMER&_count=1000",
            "Observation?code=http://loinc.org|85354-9&_count=1000",
            "Condition?clinical-status=active&_count=1000",
            "Observation?patient.gender=male&_count=1000",
        ];

        private TestDatabase _database = null!;
        private FhirStore _store = null!;
        private StoreGovernance _governance = null!;

        public static async Task<Loaded> CreateAsync(string backend, Func<FhirStore, RegionGenerator, System.Threading.Tasks.Task> load)
        {
            var loaded = new Loaded { _database = await TestDatabase.CreateAsync(backend) };
            loaded._store = await FhirStore.OpenAsync(loaded._database.Location);
            loaded._governance = await loaded._store.AddGovernanceAsync();
            await load(loaded._store, new RegionGenerator(new RegionOptions { Patients = People, Seed = 11 }));
            var index = await loaded._store.AddIdentityAsync();
            await index.CatchUpAsync();
            return loaded;
        }

        public async Task<Snapshot> SnapshotAsync()
        {
            // The index's own resources (masters, review tasks) get new ids in each store: compared by their groups below.
            var resources = await RowsAsync($"SELECT r.resource_type, r.id, r.version, r.deleted, r.patient_key, v.method, v.json FROM resource r JOIN resource_version v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version = r.version WHERE {NotTheIndexs("r")}");
            var index = new List<string>();
            foreach (var table in new[] { "idx_string", "idx_token", "idx_date", "idx_number", "idx_quantity", "idx_reference", "idx_uri" })
            {
                index.AddRange(await RowsAsync($"SELECT * FROM {table} i WHERE {NotTheIndexs("i")}"));
            }

            var searches = new List<string>();
            foreach (var url in Searches)
            {
                var response = await _store.ExecuteAsync(FhirRequest.FromUrl("GET", url));
                var bundle = (Bundle)FhirStore.Materialise(response);
                searches.Add(url + " => " + string.Join(",", bundle.Entry.Select(e => e.Resource.Id).Order(StringComparer.Ordinal)));
            }

            var masters = await RowsAsync("SELECT patient_id, master_id FROM mpi_source WHERE deleted = 0");
            var groups = masters.Select(r => r.Split('|')).GroupBy(r => r[1], r => r[0]).Select(g => string.Join(",", g.Order(StringComparer.Ordinal))).Order(StringComparer.Ordinal).ToList();
            return new Snapshot(resources, [.. index.Order(StringComparer.Ordinal)], searches, await RowsAsync(GovernanceRows), groups);
        }

        private const string Masters = "SELECT master_id FROM mpi_source WHERE master_id IS NOT NULL";

        /// <summary>
        /// The governance index, with the copies shared between a person's records (<c>via</c>) but without the rows on or
        /// from masters, whose ids the index makes up anew on each load.
        /// </summary>
        private const string GovernanceRows = $"""
            SELECT patient_key, party, basis, source_type, source_id, expires, COALESCE(via, '-') FROM gov_relationship
            WHERE source_id NOT IN ({Masters}) AND patient_key NOT IN ({Masters}) AND COALESCE(via, '-') NOT IN ({Masters})
            UNION ALL SELECT consent_id, patient_key, org, label, 'rule', expires, COALESCE(via, '-') FROM gov_consent_rule
            WHERE patient_key NOT IN ({Masters}) AND COALESCE(via, '-') NOT IN ({Masters})
            """;

        private static string NotTheIndexs(string alias) => $"{alias}.resource_type <> 'Task' AND NOT ({alias}.resource_type = 'Patient' AND {alias}.id IN ({Masters}))";

        /// <summary>Rows as text, in order; the time of writing differs between two loads and is left out.</summary>
        private async Task<List<string>> RowsAsync(string sql)
        {
            await using var connection = await _store.OpenConnectionAsync();
            await using var cmd = FhirStore.Command(connection, sql);
            await using var reader = await cmd.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
            {
                var values = Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "null" : Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)!);
                rows.Add(LastUpdated().Replace(string.Join("|", values), "\"lastUpdated\":\"-\""));
            }

            rows.Sort(StringComparer.Ordinal);
            return rows;
        }

        [GeneratedRegex("\"lastUpdated\":\"[^\"]*\"")]
        private static partial Regex LastUpdated();

        public async ValueTask DisposeAsync()
        {
            await _governance.DisposeAsync();
            await _store.DisposeAsync();
            await _database.DisposeAsync();
        }
    }
}
