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
            if (read.Status != expected)
            {
                wrong.Add($"{item.Key}: read {read.Status}, expected {expected}");
            }

            // Each version by its own labels (and those of later versions).
            for (var version = 1; version <= item.Versions; version++)
            {
                var expectedVersion = Oracle.Visible(caller, item, Region, version) ? 200 : 403;
                var vread = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", $"{item.Key}/_history/{version}"), ct);
                if (vread.Status != expectedVersion)
                {
                    wrong.Add($"{item.Key}/_history/{version}: vread {vread.Status}, expected {expectedVersion}");
                }
            }
        });
        Assert.Empty(wrong.Order());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Search_and_type_history_pages_and_totals_hold_only_allowed_resources(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        foreach (var type in SearchedTypes)
        {
            foreach (var (url, mode) in new[] { ($"{type}?_count=7", (Bundle.SearchEntryMode?)Bundle.SearchEntryMode.Match), ($"{type}/_history?_count=5", null) })
            {
                var first = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", url));
                if (!Oracle.TypeAllowed(caller, type))
                {
                    Assert.Equal(403, first.Status);
                    continue;
                }

                // Followed page by page: neither the total nor a next link may count or point at a hidden resource.
                Assert.Equal(200, first.Status);
                var bundle = (Bundle)first.Resource!;
                var total = bundle.Total;
                var found = new List<string>();
                while (true)
                {
                    found.AddRange(bundle.Entry.Where(e => e.Search?.Mode == mode).Select(e => Key(e.FullUrl)));
                    if (bundle.NextLink is null)
                    {
                        break;
                    }

                    var page = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", bundle.NextLink.ToString()["http://localhost/fhir/".Length..]));
                    Assert.Equal(200, page.Status);
                    bundle = (Bundle)page.Resource!;
                }

                Assert.Equal(Expected(caller, i => i.Type == type).Order(), found.Distinct().Order());
                Assert.True((mode is null && total is null) || total == found.Count, $"{url}: total {total}, {found.Count} entries");
            }
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
    public async System.Threading.Tasks.Task System_and_instance_history_show_only_allowed_versions(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        var system = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", "_history?_count=1000"));
        var all = ((Bundle)system.Resource!).Entry.Select(Version).ToHashSet();
        Assert.Equal(ExpectedVersions(caller, Region.Items).Order(), all.Order());

        var wrong = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Region.Items, Parallelism, async (item, ct) =>
        {
            var instance = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", item.Key + "/_history"), ct);
            var visible = Oracle.Visible(caller, item, Region);
            if ((visible ? 200 : 403) != instance.Status)
            {
                wrong.Add($"{item.Key}/_history: {instance.Status}");
            }
            else if (visible && !((Bundle)instance.Resource!).Entry.Select(Version).Order().SequenceEqual(ExpectedVersions(caller, [item]).Order()))
            {
                wrong.Add($"{item.Key}/_history holds {string.Join(", ", ((Bundle)instance.Resource!).Entry.Select(Version))}, not the versions the caller may see");
            }
        });
        Assert.Empty(wrong.Order());
    }

    /// <summary>
    /// Chained parameters and _has test other resources than the ones returned: a chain through a Patient the
    /// caller may not see must not match (or it would tell them something about that Patient, even when the
    /// Observation itself is visible, e.g. one their organisation recorded for a person who opted out), and only
    /// referring resources the caller may see count for _has (or a search for patients "having" a mental health
    /// Condition or a laboratory result would reveal hidden ones).
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Chains_and_has_criteria_never_test_hidden_resources(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        var cases = new (string Url, Func<Item, bool> Tested, bool FindsPatient)[]
        {
            ("Observation?subject:Patient.family=Person", i => i.Type == "Observation", false),
            ("Condition?patient.family=Person", i => i.Type == "Condition", false),
            ("Observation?patient.name=Person", i => i.Type == "Observation", false),
            // Every Condition of the region has this code; some carry the mental health label now, some had it or will.
            ("Patient?_has:Condition:subject:code=35489007", i => i.Type == "Condition", true),
            ("Patient?_has:Observation:subject:category=laboratory", i => i.Type == "Observation" && i.Lab, true),
            ("Patient?_has:Observation:patient:_source=" + Callers.OrgA, i => i.Type == "Observation" && i.Source == Callers.OrgA, true),
        };
        foreach (var (url, tested, findsPatient) in cases)
        {
            var response = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", url + "&_count=1000"));
            if (!Oracle.TypeAllowed(caller, url[..url.IndexOf('?', StringComparison.Ordinal)]))
            {
                Assert.Equal(403, response.Status);
                continue;
            }

            Assert.Equal(200, response.Status);
            var bundle = (Bundle)response.Resource!;
            var expected = Region.Items.Where(i => tested(i) && i.Patient is not null && Oracle.Visible(caller, i, Region) && PatientVisible(caller, i.Patient))
                .Select(i => findsPatient ? $"Patient/{i.Patient}" : i.Key).ToHashSet();
            Assert.Equal(expected.Order(), Matches(bundle).Order());
            Assert.Equal(expected.Count, bundle.Total);
        }
    }

    /// <summary>
    /// Subject access ($export-record): the person themselves or the IG lead get every resource of the person's
    /// records (whatever the consent, which restricts others, not the person) and the audit about them; everyone
    /// else is refused.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Export_record_holds_exactly_the_persons_records_for_the_person_and_the_ig_lead(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        var people = Region.People.Keys.Where(k => Region.People[k].Relation is Relation.None or Relation.Registered)
            .Concat(["p-citizen", "pt-linked", "pt-cared", "m-linked"]).ToList();
        await Parallel.ForEachAsync(people, Parallelism, async (patient, ct) =>
        {
            var response = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", $"Patient/{patient}/$export-record"), ct);
            var allowed = caller.Role == "ig-lead" || (caller.Role == "citizen" && caller.FhirUser == $"Patient/{patient}");
            if (!allowed)
            {
                Assert.True(response.Status == 403, $"{patient}: {response.Status}");
                return;
            }

            Assert.Equal(200, response.Status);
            var bundle = (Bundle)response.Resource!;
            var person = Region.PersonOf[patient];
            var expected = Region.Items.Where(i => i.Patient is not null && person.Contains(i.Patient)).Select(i => i.Key).ToHashSet();
            var records = bundle.Entry.Select(e => e.Resource).Where(r => r is not AuditEvent).Select(r => $"{r.TypeName}/{r.Id}");
            Assert.Equal(expected.Order(), records.Order());
            Assert.All(bundle.Entry.Select(e => e.Resource).OfType<AuditEvent>(), a =>
                Assert.Contains(a.Entity, x => x.What?.Reference is { } r && r.StartsWith("Patient/", StringComparison.Ordinal) && person.Contains(r["Patient/".Length..])));
            Assert.Equal(bundle.Entry.Count, bundle.Total);
        });
    }

    private bool PatientVisible(TestCaller caller, string patient) => Oracle.Visible(caller, Region.Items.Single(i => i.Key == $"Patient/{patient}"), Region);

    private static IEnumerable<string> Matches(Bundle bundle) =>
        bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => $"{e.Resource.TypeName}/{e.Resource.Id}");

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task Compartment_searches_hold_only_allowed_resources(string backend, string callerName)
    {
        var caller = CallerNamed(callerName);
        var store = StoreFor(backend);
        await Parallel.ForEachAsync(Region.PersonOf.Keys, Parallelism, async (patient, ct) =>
        {
            // The compartment, and the searches that name the patient on the element that decides whose a resource is:
            // each is answered with the filter settled for that patient (PinnedPatient), and must hold what the oracle says.
            foreach (var (type, url) in new[] { "Observation", "Condition" }.SelectMany(t => new[]
            {
                (t, $"Patient/{patient}/{t}?_count=100"),
                (t, $"{t}?patient={patient}&_count=100"),
                (t, $"{t}?subject=Patient/{patient}&_count=100&_total=accurate"),
            }))
            {
                var response = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", url), ct);
                if (!Oracle.TypeAllowed(caller, type))
                {
                    Assert.Equal(403, response.Status);
                    continue;
                }

                var bundle = (Bundle)response.Resource!;
                var expected = Expected(caller, i => i.Type == type && i.Patient == patient).Order().ToList();
                Assert.Equal(expected, bundle.Entry.Select(e => $"{type}/{e.Resource.Id}").Order());
                Assert.True(bundle.Total is null || bundle.Total == expected.Count, $"{url}: total {bundle.Total}, {expected.Count} visible");
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

    /// <summary>"Type/id/_history/version" of a history entry.</summary>
    private static string Version(Bundle.EntryComponent entry) => $"{Key(entry.FullUrl)}/_history/{entry.Resource?.Meta?.VersionId}";

    /// <summary>Every version of the items that the caller may see, as "Type/id/_history/version".</summary>
    private List<string> ExpectedVersions(TestCaller caller, IEnumerable<Item> items) =>
        [.. items.SelectMany(i => Enumerable.Range(1, i.Versions).Where(v => Oracle.Visible(caller, i, Region, v)).Select(v => $"{i.Key}/_history/{v}"))];

    private static HashSet<string> Included(Bundle bundle) =>
        [.. bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Include).Select(e => $"{e.Resource.TypeName}/{e.Resource.Id}")];
}
