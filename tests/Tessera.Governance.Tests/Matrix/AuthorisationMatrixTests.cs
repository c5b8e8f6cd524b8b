using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;

namespace Tessera.Governance.Tests.Matrix;

/// <summary>
/// The authorisation matrix: every caller role × every person of the generated region (relationship × consent
/// state, MPI-linked records, carers) × every read path, compared with <see cref="Oracle"/>. Each test names one
/// read path and checks it for every resource of the region at once, on both databases.
/// </summary>
public sealed class AuthorisationMatrixTests(GovernedStores stores) : IClassFixture<GovernedStores>
{
    private static readonly string[] SearchedTypes = ["Patient", "Observation", "Condition", "Consent", "Encounter", "Communication", "Organization", "RelatedPerson"];

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            foreach (var caller in Callers.All)
            {
                data.Add(backend, caller.Name);
            }
        }

        return data;
    }

    private static TestCaller CallerNamed(string name) => Callers.All.Single(c => c.Name == name);

    private static readonly ParallelOptions Parallelism = new() { MaxDegreeOfParallelism = 12 };

    private Region Region { get; set; } = new();

    private FhirStore StoreFor(string backend)
    {
        Region = stores.Region(backend);
        return stores.Store(backend);
    }

    private HashSet<string> Expected(TestCaller caller, Func<Item, bool>? where = null) =>
        [.. Region.Items.Where(i => (where is null || where(i)) && Oracle.Visible(caller, i, Region)).Select(i => i.Key)];

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Read_and_vread_return_exactly_what_the_policy_allows(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        var wrong = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Region.Items, Parallelism, async (item, ct) =>
        {
            var expected = Oracle.Visible(caller, item, Region) ? 200 : 403;
            var read = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", item.Key), ct);
            var vread = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", item.Key + "/_history/1"), ct);
            if (read.Status != expected || vread.Status != expected)
            {
                wrong.Add($"{item.Key}: read {read.Status}, vread {vread.Status}, expected {expected}");
            }
        });
        Assert.Empty(wrong.Order());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Search_pages_and_totals_hold_only_allowed_resources(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        foreach (var type in SearchedTypes)
        {
            var first = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", $"{type}?_count=7"));
            if (!Oracle.TypeAllowed(caller, type))
            {
                Assert.Equal(403, first.Status);
                continue;
            }

            Assert.Equal(200, first.Status);
            var expected = Expected(caller, i => i.Type == type);
            var bundle = (Bundle)first.Resource!;
            Assert.Equal(expected.Count, bundle.Total);
            var found = new List<string>();
            while (true)
            {
                found.AddRange(bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => $"{e.Resource.TypeName}/{e.Resource.Id}"));
                if (bundle.NextLink is null)
                {
                    break;
                }

                var next = bundle.NextLink.ToString();
                var page = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", next["http://localhost/fhir/".Length..]));
                Assert.Equal(200, page.Status);
                bundle = (Bundle)page.Resource!;
            }

            Assert.Equal(expected.Order(), found.Order());
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Includes_and_revincludes_never_bring_in_hidden_resources(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        var visiblePatients = Expected(caller, i => i.Type == "Patient");
        var visibleObservations = Region.Items.Where(i => i.Type == "Observation" && Oracle.Visible(caller, i, Region)).ToList();

        var include = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", "Observation?_include=Observation:subject&_count=1000"));
        if (Oracle.TypeAllowed(caller, "Observation"))
        {
            var included = Included((Bundle)include.Resource!);
            var expected = visibleObservations.Select(o => $"Patient/{o.Patient}").Where(visiblePatients.Contains).ToHashSet();
            Assert.Equal(expected.Order(), included.Order());
        }
        else
        {
            Assert.Equal(403, include.Status);
        }

        var revinclude = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", "Patient?_revinclude=Observation:subject&_count=1000"));
        if (Oracle.TypeAllowed(caller, "Patient"))
        {
            var bundle = (Bundle)revinclude.Resource!;
            var matches = bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => $"Patient/{e.Resource.Id}");
            Assert.Equal(visiblePatients.Order(), matches.Order());
            var expected = visibleObservations.Where(o => visiblePatients.Contains($"Patient/{o.Patient}")).Select(o => o.Key);
            Assert.Equal(expected.Order(), Included(bundle).Order());
        }
        else
        {
            Assert.Equal(403, revinclude.Status);
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task History_shows_only_allowed_versions(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        foreach (var type in new[] { "Observation", "Patient" })
        {
            var history = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", $"{type}/_history?_count=1000"));
            if (!Oracle.TypeAllowed(caller, type))
            {
                Assert.Equal(403, history.Status);
                continue;
            }

            var ids = ((Bundle)history.Resource!).Entry.Select(e => Key(e.FullUrl)).ToHashSet();
            Assert.Equal(Expected(caller, i => i.Type == type).Order(), ids.Order());
        }

        var system = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", "_history?_count=1000"));
        var all = ((Bundle)system.Resource!).Entry.Select(e => Key(e.FullUrl)).ToHashSet();
        Assert.Equal(Expected(caller).Order(), all.Order());

        foreach (var item in Region.Items.Where(i => i.Id.EndsWith("-vital", StringComparison.Ordinal)))
        {
            var instance = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", item.Key + "/_history"));
            Assert.True((Oracle.Visible(caller, item, Region) ? 200 : 403) == instance.Status, $"{item.Key}/_history: {instance.Status}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Compartment_searches_hold_only_allowed_resources(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        await Parallel.ForEachAsync(Region.PersonOf.Keys, Parallelism, async (patient, ct) =>
        {
            foreach (var type in new[] { "Observation", "Condition" })
            {
                var response = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", $"Patient/{patient}/{type}?_count=100"), ct);
                if (!Oracle.TypeAllowed(caller, type))
                {
                    Assert.Equal(403, response.Status);
                    continue;
                }

                var found = ((Bundle)response.Resource!).Entry.Select(e => $"{type}/{e.Resource.Id}");
                Assert.Equal(Expected(caller, i => i.Type == type && i.Patient == patient).Order(), found.Order());
            }
        });
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Batch_get_entries_are_decided_one_by_one(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        var batch = new Bundle { Type = Bundle.BundleType.Batch };
        foreach (var item in Region.Items)
        {
            batch.Entry.Add(new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.GET, Url = item.Key } });
        }

        var response = await store.ExecuteAsync(GovernedStores.Request(caller, "POST", string.Empty, batch));
        var entries = ((Bundle)response.Resource!).Entry;
        var wrong = Region.Items.Select((item, i) => (item, status: entries[i].Response.Status))
            .Where(x => !x.status.StartsWith(Oracle.Visible(caller, x.item, Region) ? "200" : "403", StringComparison.Ordinal))
            .Select(x => $"{x.item.Key}: {x.status}").ToList();
        Assert.Empty(wrong);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Everything_holds_only_allowed_resources_of_the_person(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        await Parallel.ForEachAsync(Region.PersonOf, Parallelism, async (pair, ct) =>
        {
            var (patient, person) = pair;
            var response = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", $"Patient/{patient}/$everything?_count=1000"), ct);
            var self = Region.Items.Single(i => i.Key == $"Patient/{patient}");
            if (!Oracle.Visible(caller, self, Region))
            {
                Assert.Equal(403, response.Status);
                return;
            }

            Assert.Equal(200, response.Status);
            var bundle = (Bundle)response.Resource!;
            var returned = bundle.Entry.Select(e => $"{e.Resource.TypeName}/{e.Resource.Id}").ToList();
            var personal = Expected(caller, i => i.Patient is not null && person.Contains(i.Patient));
            Assert.Equal(personal.Order(), returned.Where(r => Region.Items.Any(i => i.Key == r && i.Patient is not null)).Order());
            Assert.All(returned, r => Assert.True(Region.Items.Any(i => i.Key == r && Oracle.Visible(caller, i, Region)), r));
            Assert.Equal(returned.Count, bundle.Total);
        });
    }

    private static string Key(string fullUrl) => string.Join('/', fullUrl.Split('/')[^2..]);

    private static HashSet<string> Included(Bundle bundle) =>
        [.. bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Include).Select(e => $"{e.Resource.TypeName}/{e.Resource.Id}")];
}
