using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;
using static Tessera.RecordStore.Tests.Search.SearchSemantics;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// What a search returns (FHIR R4 search.html 3.1.1.5 and 3.1.1.7): _sort, _count with next and previous links,
/// _total, _summary, _elements, _include and _revinclude, compartment search and POST _search.
/// </summary>
public sealed class ResultControlSemanticsTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    private const string Base = "http://localhost/fhir/";
    private const string Subsetted = "SUBSETTED";

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Sort_orders_by_each_key_in_turn_and_breaks_ties_by_id(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        // 1 and 5 share family and birth date; 4 has no birth date and 6 no name, so they sort last either way.
        await Put(store, tag, "1", new Patient { Name = [new HumanName { Family = "Brown" }], BirthDate = "1980-01-01" });
        await Put(store, tag, "2", new Patient { Name = [new HumanName { Family = "adams" }], BirthDate = "1990-05-05" });
        await Put(store, tag, "3", new Patient { Name = [new HumanName { Family = "Brown" }], BirthDate = "1970" });
        await Put(store, tag, "4", new Patient { Name = [new HumanName { Family = "Clark" }] });
        await Put(store, tag, "5", new Patient { Name = [new HumanName { Family = "Brown" }], BirthDate = "1980-01-01" });
        await Put(store, tag, "6", new Patient { BirthDate = "2000" });

        // Strings sort without regard to case.
        await FindsInOrder(store, tag, "Patient?_sort=family", "2", "1", "3", "5", "4", "6");
        await FindsInOrder(store, tag, "Patient?_sort=-family", "4", "1", "3", "5", "2", "6");
        await FindsInOrder(store, tag, "Patient?_sort=birthdate", "3", "1", "5", "2", "6", "4");
        await FindsInOrder(store, tag, "Patient?_sort=-birthdate", "6", "2", "1", "5", "3", "4");
        await FindsInOrder(store, tag, "Patient?_sort=family,-birthdate", "2", "1", "5", "3", "4", "6");
        await FindsInOrder(store, tag, "Patient?_sort=-family,birthdate", "4", "3", "1", "5", "2", "6");
        await FindsInOrder(store, tag, "Patient?_sort=_id", "1", "2", "3", "4", "5", "6");
        await FindsInOrder(store, tag, "Patient?_sort=-_id", "6", "5", "4", "3", "2", "1");
        await FindsInOrder(store, tag, "Patient?_sort=family,-_id", "2", "5", "3", "1", "4", "6");

        // _lastUpdated: the order follows from the times the store gave; equal times fall back to the id.
        var updated = new List<(string Name, DateTimeOffset At)>();
        foreach (var name in new[] { "1", "2", "3", "4", "5", "6" })
        {
            updated.Add((name, (await store.Send("GET", $"Patient/{tag}-{name}")).Body<Patient>().Meta.LastUpdated!.Value));
        }

        await FindsInOrder(store, tag, "Patient?_sort=_lastUpdated", [.. updated.OrderBy(u => u.At).ThenBy(u => u.Name, StringComparer.Ordinal).Select(u => u.Name)]);
        await FindsInOrder(store, tag, "Patient?_sort=-_lastUpdated", [.. updated.OrderByDescending(u => u.At).ThenBy(u => u.Name, StringComparer.Ordinal).Select(u => u.Name)]);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Count_pages_with_next_and_previous_links_and_total_is_as_asked(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        foreach (var name in new[] { "a", "b", "c", "d", "e" })
        {
            await Put(store, tag, name, new Patient { Name = [new HumanName { Family = "Page" + name }] });
        }

        var first = await store.SearchAsync(Scoped(tag, "Patient?_sort=family&_count=2"));
        Assert.Equal(["a", "b"], Names(tag, first));
        Assert.Equal(5, first.Total);
        Assert.DoesNotContain(first.Link, l => l.Relation == "previous");
        var second = await store.SearchAsync(Relative(first, "next"));
        Assert.Equal(["c", "d"], Names(tag, second));
        var third = await store.SearchAsync(Relative(second, "next"));
        Assert.Equal(["e"], Names(tag, third));
        Assert.DoesNotContain(third.Link, l => l.Relation == "next");
        Assert.Equal(["c", "d"], Names(tag, await store.SearchAsync(Relative(third, "previous"))));
        Assert.Equal(["a", "b"], Names(tag, await store.SearchAsync(Relative(second, "previous"))));

        // _count=0 asks for the total alone; _total=none for no total; estimate and accurate give one.
        var none = await store.SearchAsync(Scoped(tag, "Patient?_count=0"));
        Assert.Empty(none.Entry);
        Assert.Equal(5, none.Total);
        Assert.Null((await store.SearchAsync(Scoped(tag, "Patient?_total=none&_count=2"))).Total);
        Assert.Null((await store.SearchAsync(Scoped(tag, "Patient?_total=none"))).Total);
        Assert.Equal(5, (await store.SearchAsync(Scoped(tag, "Patient?_total=accurate&_count=2"))).Total);
        Assert.NotNull((await store.SearchAsync(Scoped(tag, "Patient?_total=estimate&_count=2"))).Total);
        Assert.Equal(0, (await store.SearchAsync(Scoped(tag, "Patient?family=nobody&_total=accurate"))).Total);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Summary_keeps_the_elements_each_mode_defines_and_marks_them_subsetted(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        await Put(store, tag, "p", new Patient
        {
            Text = new Narrative { Status = Narrative.NarrativeStatus.Generated, Div = "<div xmlns=\"http://www.w3.org/1999/xhtml\">Ann Lee</div>" },
            Identifier = [new Identifier($"urn:mrn:{tag}", "1")],
            Active = true,
            Name = [new HumanName { Family = "Lee", Given = ["Ann"] }],
            Gender = AdministrativeGender.Female,
            BirthDate = "1970-02-03",
            MaritalStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus", "M"),
            Communication = [new Patient.CommunicationComponent { Language = new CodeableConcept("urn:ietf:bcp:47", "en") }],
        });

        var summary = await One<Patient>(store, tag, "Patient?_summary=true");
        Assert.Equal($"{tag}-p", summary.Id);
        Assert.NotEmpty(summary.Identifier);
        Assert.True(summary.Active);
        Assert.Equal("Lee", summary.Name.Single().Family);
        Assert.Equal(AdministrativeGender.Female, summary.Gender);
        Assert.Equal("1970-02-03", summary.BirthDate);
        Assert.Null(summary.Text);
        Assert.Null(summary.MaritalStatus);
        Assert.Empty(summary.Communication);
        AssertSubsetted(summary, tag);

        var text = await One<Patient>(store, tag, "Patient?_summary=text");
        Assert.Contains("Ann Lee", text.Text.Div, StringComparison.Ordinal);
        Assert.Empty(text.Name);
        Assert.Empty(text.Identifier);
        Assert.Null(text.BirthDate);
        AssertSubsetted(text, tag);

        var data = await One<Patient>(store, tag, "Patient?_summary=data");
        Assert.Null(data.Text);
        Assert.Equal("Lee", data.Name.Single().Family);
        Assert.NotNull(data.MaritalStatus);
        Assert.NotEmpty(data.Communication);
        AssertSubsetted(data, tag);

        var whole = await One<Patient>(store, tag, "Patient?_summary=false");
        Assert.NotNull(whole.Text);
        Assert.NotNull(whole.MaritalStatus);
        Assert.DoesNotContain(whole.Meta.Tag, t => t.Code == Subsetted);

        var count = await store.SearchAsync(Scoped(tag, "Patient?_summary=count"));
        Assert.Equal(1, count.Total);
        Assert.DoesNotContain(count.Entry, e => e.Search?.Mode == Bundle.SearchEntryMode.Match);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Summary_text_and_elements_keep_mandatory_elements_id_and_meta(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        await Put(store, tag, "o", new Observation
        {
            Text = new Narrative { Status = Narrative.NarrativeStatus.Generated, Div = "<div xmlns=\"http://www.w3.org/1999/xhtml\">Pulse 72</div>" },
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "8867-4"),
            Subject = new ResourceReference("Patient/nobody"),
            Value = new Quantity(72, "/min", "http://unitsofmeasure.org"),
            Note = [new Annotation { Text = new Markdown("At rest") }],
        });

        var elements = await One<Observation>(store, tag, "Observation?_elements=subject,note");
        Assert.Equal($"{tag}-o", elements.Id);
        Assert.Equal("Patient/nobody", elements.Subject.Reference);
        Assert.Single(elements.Note);
        Assert.Null(elements.Value);
        Assert.Null(elements.Text);
        Assert.Equal(ObservationStatus.Final, elements.Status);
        Assert.Equal("8867-4", elements.Code.Coding.Single().Code);
        AssertSubsetted(elements, tag);

        var text = await One<Observation>(store, tag, "Observation?_summary=text");
        Assert.Contains("Pulse 72", text.Text.Div, StringComparison.Ordinal);
        Assert.Equal(ObservationStatus.Final, text.Status);
        Assert.Equal("8867-4", text.Code.Coding.Single().Code);
        Assert.Null(text.Subject);
        Assert.Null(text.Value);
        AssertSubsetted(text, tag);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Include_and_revinclude_add_the_referenced_and_referring_resources(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var org = await Put(store, tag, "org", new Organization { Name = "Clinic" });
        var p = await Put(store, tag, "p", new Patient { ManagingOrganization = new ResourceReference($"Organization/{org}") });
        var q = await Put(store, tag, "q", new Patient());
        var doctor = await Put(store, tag, "doctor", new Practitioner());
        await Put(store, tag, "o1", Observation(p, $"Practitioner/{doctor}"));
        await Put(store, tag, "o2", Observation(p, null));
        await Put(store, tag, "o3", Observation(q, null));

        var subjects = await store.SearchAsync(Scoped(tag, "Observation?_include=Observation:subject"));
        Assert.Equal(["o1", "o2", "o3"], Names(tag, subjects).Order(StringComparer.Ordinal));
        Assert.Equal(["Patient/p", "Patient/q"], Included(tag, subjects));

        Assert.Empty(Included(tag, await store.SearchAsync(Scoped(tag, "Observation?_include=Observation:subject:Group"))));
        Assert.Equal(["Patient/p", "Patient/q"], Included(tag, await store.SearchAsync(Scoped(tag, "Observation?_include=Observation:subject:Patient"))));
        Assert.Equal(["Patient/p", "Patient/q", "Practitioner/doctor"], Included(tag, await store.SearchAsync(Scoped(tag, "Observation?_include=Observation:*"))));
        Assert.Equal(["Patient/p"], Included(tag, await store.SearchAsync(Scoped(tag, "Observation?code=8867-4&_include=Observation:subject&_id=" + $"{tag}-o2"))));

        var referring = await store.SearchAsync(Scoped(tag, $"Patient?_id={p}&_revinclude=Observation:subject"));
        Assert.Equal(["p"], Names(tag, referring));
        Assert.Equal(["Observation/o1", "Observation/o2"], Included(tag, referring));
        var both = await store.SearchAsync(Scoped(tag, $"Patient?_id={p}&_revinclude=Observation:subject&_include=Patient:organization"));
        Assert.Equal(["Observation/o1", "Observation/o2", "Organization/org"], Included(tag, both));
    }

    /// <summary>_include:iterate (R4 3.1.1.5.4) follows the references of included resources too.</summary>
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Include_iterate_follows_references_of_included_resources(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var org = await Put(store, tag, "org", new Organization { Name = "Clinic" });
        var p = await Put(store, tag, "p", new Patient { ManagingOrganization = new ResourceReference($"Organization/{org}") });
        await Put(store, tag, "o1", Observation(p, null));

        var bundle = await store.SearchAsync(Scoped(tag, "Observation?_include=Observation:subject&_include:iterate=Patient:organization"));
        Assert.Equal(["o1"], Names(tag, bundle));
        Assert.Equal(["Organization/org", "Patient/p"], Included(tag, bundle));
        var outcome = bundle.Entry.Where(e => e.Search.Mode == Bundle.SearchEntryMode.Outcome).Select(e => (OperationOutcome)e.Resource).SelectMany(o => o.Issue);
        Assert.Empty(outcome);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Compartment_search_and_post_search_find_what_get_finds(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var p = await Put(store, tag, "p", new Patient());
        var q = await Put(store, tag, "q", new Patient());
        await Put(store, tag, "o1", Observation(p, null));
        await Put(store, tag, "o2", Observation(p, null, "29463-7"));
        await Put(store, tag, "o3", Observation(q, null));
        await Put(store, tag, "e1", new Encounter { Status = Encounter.EncounterStatus.Finished, Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"), Subject = new ResourceReference($"Patient/{p}") });

        await Finds(store, tag, $"Patient/{p}/Observation", "o1", "o2");
        await Finds(store, tag, $"Patient/{p}/Observation?code=29463-7", "o2");
        await Finds(store, tag, $"Patient/{q}/Observation", "o3");
        await Finds(store, tag, $"Patient/{p}/Encounter", "e1");
        await Finds(store, tag, $"Patient/{tag}-nobody/Observation");
        await Refuses(store, $"Patient/{p}/Organization");

        foreach (var search in new[] { "Observation?code=8867-4", "Observation?subject=Patient/" + p, "Observation?_sort=-_id&_count=2" })
        {
            var get = await store.SearchAsync(Scoped(tag, search));
            var post = await store.Send("POST", Scoped(tag, search).Replace("Observation?", "Observation/_search?", StringComparison.Ordinal));
            Assert.True(post.Status == 200, $"POST {search} answered {post.Status}: {StoreExtensions.Describe(post)}");
            var posted = (Bundle)post.Resource!;
            Assert.Equal(Names(tag, get), Names(tag, posted));
            Assert.Equal(get.Total, posted.Total);
            Assert.Equal(get.Link.Single(l => l.Relation == "self").Url, posted.Link.Single(l => l.Relation == "self").Url);
        }
    }

    private static Observation Observation(string subject, string? performer, string code = "8867-4")
    {
        var observation = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", code), Subject = new ResourceReference($"Patient/{subject}") };
        if (performer is not null)
        {
            observation.Performer = [new ResourceReference(performer)];
        }

        return observation;
    }

    private static async Task<T> One<T>(FhirStore store, string tag, string search)
        where T : Resource
    {
        var bundle = await store.SearchAsync(Scoped(tag, search));
        return Assert.IsType<T>(Assert.Single(bundle.Entry, e => e.Search.Mode == Bundle.SearchEntryMode.Match).Resource);
    }

    private static void AssertSubsetted(Resource resource, string tag)
    {
        Assert.NotNull(resource.Meta);
        Assert.Contains(resource.Meta.Tag, t => t.System == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue" && t.Code == Subsetted);
        Assert.Contains(resource.Meta.Tag, t => t.System == TagSystem && t.Code == tag);
    }

    private static List<string> Names(string tag, Bundle bundle) =>
        [.. bundle.Entry.Where(e => e.Search.Mode == Bundle.SearchEntryMode.Match).Select(e => Short(tag, e.Resource.Id))];

    private static List<string> Included(string tag, Bundle bundle) =>
        [.. bundle.Entry.Where(e => e.Search.Mode == Bundle.SearchEntryMode.Include).Select(e => $"{e.Resource.TypeName}/{Short(tag, e.Resource.Id)}").Order(StringComparer.Ordinal)];

    private static string Relative(Bundle bundle, string relation)
    {
        var url = bundle.Link.Single(l => l.Relation == relation).Url;
        Assert.StartsWith(Base, url, StringComparison.Ordinal);
        return url[Base.Length..];
    }
}
