using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Search;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Tests.Corpus;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>Three Synthea patients loaded once per backend; each test adds its own uniquely named data beside them.</summary>
public sealed class EverythingFixture : IAsyncLifetime
{
    private readonly StoreFixture _stores = new();

    /// <summary>Per backend: each loaded patient's id and the (type, id) of every resource its bundle created.</summary>
    public Dictionary<string, List<(string PatientId, HashSet<(string, string)> Resources)>> Loaded { get; } = [];

    /// <summary>Per backend: each loaded resource's (type, id) to its place in the corpus ("bundle#entry"), the same on both backends.</summary>
    public Dictionary<string, Dictionary<(string, string), string>> Places { get; } = [];

    public FhirStore this[string backend] => _stores[backend];

    public async System.Threading.Tasks.Task InitializeAsync()
    {
        await _stores.InitializeAsync();
        var bundles = SyntheaCorpus.SmallestPatients(3);
        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            var loaded = new List<(string, HashSet<(string, string)>)>();
            var places = new Dictionary<(string, string), string>();
            foreach (var (name, json) in bundles)
            {
                var response = await _stores[backend].Send("POST", string.Empty, FhirSerialization.ParseJson(json));
                Assert.True(response.Status == 200, $"{name} was not accepted: {StoreExtensions.Describe(response)}");
                // A transaction's response entries are in the order of its request entries.
                var keys = ((Bundle)response.Resource!).Entry
                    .Select(e => e.Response.Location.Split('/'))
                    .Select(parts => (parts[0], parts[1]))
                    .ToList();
                for (var i = 0; i < keys.Count; i++)
                {
                    places[keys[i]] = $"{name}#{i}";
                }

                var created = keys.ToHashSet();
                loaded.Add((created.Single(c => c.Item1 == "Patient").Item2, created));
            }

            Loaded[backend] = loaded;
            Places[backend] = places;
        }
    }

    public System.Threading.Tasks.Task DisposeAsync() => _stores.DisposeAsync();
}

public sealed class EverythingTests(EverythingFixture fixture) : IClassFixture<EverythingFixture>
{
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Each_synthea_patients_everything_is_exactly_its_bundle_across_pages(string backend)
    {
        foreach (var (patientId, expected) in fixture.Loaded[backend])
        {
            var pages = await AllPagesAsync(fixture[backend], $"Patient/{patientId}/$everything?_count=17");

            var found = pages.SelectMany(p => p.Entry).Select(e => (e.Resource.TypeName, e.Resource.Id!)).ToList();
            Assert.Equal(found.Count, found.Distinct().Count());
            Assert.Equal(expected.OrderBy(k => k).ToList(), found.OrderBy(k => k).ToList());
            Assert.Equal(expected.Count, pages[0].Total);
            Assert.True(pages.Count > 2, "17 per page must take several pages");
        }
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Paging_stays_correct_when_resources_are_added_between_pages(string backend)
    {
        var store = fixture[backend];
        var patient = await Create(store, new Patient { Name = [new HumanName { Family = StoreExtensions.Unique("Pager") }] });
        var before = new List<string>();
        for (var i = 0; i < 6; i++)
        {
            before.Add(await Create(store, Observation(patient, "2021-01-0" + (i + 1))));
        }

        var first = await store.SearchAsync($"Patient/{patient}/$everything?_count=3");
        // Written between pages: keyset paging neither repeats nor skips what was there before.
        var added = await Create(store, Observation(patient, "2021-02-01"));
        var rest = await AllPagesAsync(store, Relative(first.Link.Single(l => l.Relation == "next").Url));

        var ids = first.Entry.Concat(rest.SelectMany(p => p.Entry)).Select(e => e.Resource.Id!).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        // The new one appears when it sorts after the cursor, and is never a reason to repeat or lose another.
        Assert.Equal(before.Append(patient).Order(), ids.Where(id => id != added).Order());
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task A_person_with_a_master_record_is_returned_whole_one_hop_only(string backend)
    {
        var store = fixture[backend];
        var a = await Create(store, new Patient { Name = [new HumanName { Family = "A" }] });
        var b = await Create(store, new Patient { Name = [new HumanName { Family = "B" }] });
        var c = await Create(store, new Patient { Name = [new HumanName { Family = "C" }] });
        var obsA = await Create(store, Observation(a, "2020-01-01"));
        var obsB = await Create(store, Observation(b, "2020-01-02"));
        var obsC = await Create(store, Observation(c, "2020-01-03"));
        var master = await Create(store, Master(a, b));
        // C shares a different master with B: not reached from A (one hop: source -> master -> sources).
        var otherMaster = await Create(store, Master(b, c));
        // A non-master patient linking A does not widen the record beyond itself (it is in A's compartment by Patient.link).
        var plainLinker = await Create(store, new Patient { Link = [new Patient.LinkComponent { Other = new ResourceReference($"Patient/{a}"), Type = Patient.LinkType.Seealso }] });

        var fromA = await Ids(store, $"Patient/{a}/$everything");
        var fromMaster = await Ids(store, $"Patient/{master}/$everything");
        var fromC = await Ids(store, $"Patient/{c}/$everything");

        Assert.Equal(new[] { a, b, master, otherMaster, obsA, obsB, plainLinker }.Order(), fromA.Order());
        Assert.Equal(new[] { a, b, master, otherMaster, obsA, obsB, plainLinker }.Order(), fromMaster.Order());
        Assert.Equal(new[] { b, c, otherMaster, obsB, obsC, master }.Order(), fromC.Order());
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Type_since_start_and_end_narrow_the_record(string backend)
    {
        var store = fixture[backend];
        var org = await Create(store, new Organization { Name = StoreExtensions.Unique("Org") });
        var patient = await Create(store, new Patient { ManagingOrganization = new ResourceReference($"Organization/{org}") });
        var old = await Create(store, Visit(patient, org, "2019-03-01"));
        var recent = await Create(store, Visit(patient, org, "2023-06-01"));
        var undated = await Create(store, new Encounter { Status = Encounter.EncounterStatus.Planned, Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"), Subject = new ResourceReference($"Patient/{patient}") });
        var obs = await Create(store, Observation(patient, "2023-07-01"));
        await System.Threading.Tasks.Task.Delay(5);
        var cut = DateTimeOffset.UtcNow;
        await System.Threading.Tasks.Task.Delay(5);
        var updated = await store.Send("PUT", $"Encounter/{old}", Visit(patient, org, "2019-03-01", old));
        Assert.Equal(200, updated.Status);

        Assert.Equal(new[] { old, recent, undated }.Order(), (await Ids(store, $"Patient/{patient}/$everything?_type=Encounter")).Order());
        Assert.Equal(new[] { patient, org, recent, undated, obs }.Order(), (await Ids(store, $"Patient/{patient}/$everything?start=2022-01-01")).Order());
        Assert.Equal(new[] { patient, org, old, undated }.Order(), (await Ids(store, $"Patient/{patient}/$everything?end=2020")).Order());
        Assert.Equal(new[] { patient, org, recent, undated }.Order(), (await Ids(store, $"Patient/{patient}/$everything?start=2023-01&end=2023-06")).Order());
        Assert.Equal([old], await Ids(store, $"Patient/{patient}/$everything?_since={Uri.EscapeDataString(cut.ToString("yyyy-MM-ddTHH:mm:ss.fffzzz", System.Globalization.CultureInfo.InvariantCulture))}"));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Another_patients_resources_are_never_pulled_in_by_a_reference(string backend)
    {
        var store = fixture[backend];
        var a = await Create(store, new Patient());
        var b = await Create(store, new Patient());
        var obsB = await Create(store, Observation(b, "2020-05-05"));
        var obsA = Observation(a, "2020-05-06");
        obsA.Focus = [new ResourceReference($"Patient/{b}"), new ResourceReference($"Observation/{obsB}")];
        var obsAId = await Create(store, obsA);

        Assert.Equal(new[] { a, obsAId }.Order(), (await Ids(store, $"Patient/{a}/$everything")).Order());
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Errors_are_operation_outcomes_with_the_right_status(string backend)
    {
        var store = fixture[backend];
        var gone = await Create(store, new Patient());
        await store.Send("DELETE", $"Patient/{gone}");

        Assert.Equal(404, (await store.Send("GET", "Patient/no-such-patient/$everything")).Status);
        Assert.Equal(410, (await store.Send("GET", $"Patient/{gone}/$everything")).Status);
        Assert.Equal(400, (await store.Send("GET", $"Patient/{fixture.Loaded[backend][0].PatientId}/$everything?start=yesterday")).Status);
        Assert.Equal(400, (await store.Send("GET", $"Patient/{fixture.Loaded[backend][0].PatientId}/$everything?_type=Nonsense")).Status);
        Assert.Equal(400, (await store.Send("GET", $"Patient/{fixture.Loaded[backend][0].PatientId}/$everything?_cursor=xyz")).Status);
        Assert.Equal(404, (await store.Send("GET", "Observation/x/$everything")).Status);
        var strict = await store.Send("GET", $"Patient/{gone}/$everything?bogus=1", adjust: r => r with { StrictHandling = true });
        Assert.Equal(400, strict.Status);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Type_level_covers_every_patient(string backend)
    {
        var store = fixture[backend];
        var pages = await AllPagesAsync(store, "Patient/$everything?_type=Patient&_count=50");
        var ids = pages.SelectMany(p => p.Entry).Select(e => e.Resource.Id!).ToHashSet();

        Assert.True(ids.IsSupersetOf(fixture.Loaded[backend].Select(l => l.PatientId)));
        Assert.All(pages.SelectMany(p => p.Entry), e => Assert.Equal("Patient", e.Resource.TypeName));
    }

    [Fact]
    public void Every_care_date_names_a_date_parameter_of_its_type()
    {
        foreach (var (type, code) in PatientEverything.CareDates)
        {
            Assert.True(SearchParameterRegistry.Core.Find(type, code) is { Type: SearchParamType.Date }, $"{type}.{code} is not a date search parameter");
            Assert.True(PatientCompartment.IsInCompartment(type), $"{type} is not in the Patient compartment");
        }
    }

    private static async Task<List<Bundle>> AllPagesAsync(FhirStore store, string url)
    {
        var pages = new List<Bundle>();
        string? next = url;
        while (next is not null)
        {
            var page = await store.SearchAsync(next);
            Assert.Equal(Bundle.BundleType.Searchset, page.Type);
            pages.Add(page);
            next = page.Link.FirstOrDefault(l => l.Relation == "next")?.Url is { } link ? Relative(link) : null;
            Assert.True(pages.Count < 100, "paging does not end");
        }

        return pages;
    }

    private static string Relative(string url) => url["http://localhost/fhir/".Length..];

    private static async Task<List<string>> Ids(FhirStore store, string url) =>
        (await AllPagesAsync(store, url)).SelectMany(p => p.Entry).Select(e => e.Resource.Id!).ToList();

    private static async Task<string> Create(FhirStore store, Resource resource)
    {
        var response = resource.Id is null ? await store.Send("POST", resource.TypeName, resource) : await store.Send("PUT", $"{resource.TypeName}/{resource.Id}", resource);
        Assert.True(response.Status is 200 or 201, StoreExtensions.Describe(response));
        return response.Id!;
    }

    private static Observation Observation(string patient, string date) => new()
    {
        Status = ObservationStatus.Final,
        Code = new CodeableConcept("http://loinc.org", "8867-4"),
        Subject = new ResourceReference($"Patient/{patient}"),
        Effective = new FhirDateTime(date),
    };

    private static Encounter Visit(string patient, string org, string date, string? id = null) => new()
    {
        Id = id,
        Status = Encounter.EncounterStatus.Finished,
        Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"),
        Subject = new ResourceReference($"Patient/{patient}"),
        ServiceProvider = new ResourceReference($"Organization/{org}"),
        Period = new Period { Start = date, End = date },
    };

    private static Patient Master(params string[] sources) => new()
    {
        Meta = new Meta { Tag = [new Coding("urn:tessera:mpi", "master")] },
        Link = [.. sources.Select(s => new Patient.LinkComponent { Other = new ResourceReference($"Patient/{s}"), Type = Patient.LinkType.Seealso })],
    };
}
