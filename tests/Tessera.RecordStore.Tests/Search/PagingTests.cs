using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>first / previous / next / last links by keyset, in both directions and any sort order; includes per page.</summary>
public sealed class PagingTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Next_and_previous_walk_the_same_order_both_ways_for_any_sort(string backend)
    {
        var store = fixture[backend];
        var tag = StoreExtensions.Unique("page");
        // Some without a birth date (sorted last either way), several sharing one (the id breaks the tie).
        string?[] dates = ["1950-01-01", null, "1980-05-05", "1980-05-05", "1960", null, "1999-12-31", "1980-05-05", "1970-07"];
        for (var i = 0; i < dates.Length; i++)
        {
            var patient = new Patient { Meta = new Meta { Tag = [new Coding("urn:test", tag)] }, Name = [new HumanName { Family = "Fam" + (i % 4) }] };
            if (dates[i] is { } d)
            {
                patient.BirthDate = d;
            }

            Assert.Equal(201, (await store.Send("POST", "Patient", patient)).Status);
        }

        foreach (var sort in new[] { string.Empty, "&_sort=-birthdate", "&_sort=birthdate,-family", "&_sort=family,-_lastUpdated", "&_sort=-_id" })
        {
            var query = $"Patient?_tag=urn:test|{tag}{sort}";
            var whole = Ids(await store.SearchAsync(query + "&_count=100"));
            Assert.Equal(dates.Length, whole.Count);

            var forward = new List<string>();
            var pages = await Walk(store, query + "&_count=2", "next");
            pages.ForEach(p => forward.AddRange(Ids(p)));
            Assert.Equal(whole, forward);
            Assert.DoesNotContain(pages[0].Link, l => l.Relation == "previous");

            // From the last page back to the first with previous links.
            var last = await store.SearchAsync(Relative(pages[0].Link.Single(l => l.Relation == "last").Url));
            Assert.Equal(whole.TakeLast(Ids(last).Count), Ids(last));
            var backward = await Walk(store, Relative(last.Link.Single(l => l.Relation == "self").Url), "previous");
            var readBack = backward.AsEnumerable().Reverse().SelectMany(Ids).ToList();
            Assert.Equal(whole, readBack);
            // Pages read backwards are aligned on the end, so the earliest may be short; it has no previous link.
            Assert.Equal(whole[0], Ids(backward[^1])[0]);
            Assert.DoesNotContain(backward[^1].Link, l => l.Relation == "previous");
            Assert.Equal(Ids(pages[0]), Ids(await store.SearchAsync(Relative(backward[^1].Link.Single(l => l.Relation == "first").Url))));
        }
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Links_stay_correct_while_resources_are_added_and_deleted(string backend)
    {
        var store = fixture[backend];
        var tag = StoreExtensions.Unique("moving");
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(201, (await store.Send("POST", "Patient", Tagged(tag))).Status);
        }

        var query = $"Patient?_tag=urn:test|{tag}&_count=2";
        var ids = Ids(await store.SearchAsync(query.Replace("_count=2", "_count=10", StringComparison.Ordinal)));
        var first = await store.SearchAsync(query);
        var second = await store.SearchAsync(Relative(first.Link.Single(l => l.Relation == "next").Url));
        // Between pages: one of the first page is deleted and a new one is added (it sorts last by _lastUpdated).
        await store.Send("DELETE", $"Patient/{Ids(first)[0]}");
        var added = (await store.Send("POST", "Patient", Tagged(tag))).Id!;

        var third = await store.SearchAsync(Relative(second.Link.Single(l => l.Relation == "next").Url));
        var fourth = await store.SearchAsync(Relative(third.Link.Single(l => l.Relation == "next").Url));
        var back = await store.SearchAsync(Relative(third.Link.Single(l => l.Relation == "previous").Url));

        Assert.Equal(ids.Skip(2).Take(2), Ids(second));
        Assert.Equal(ids.Skip(4), Ids(third));
        Assert.Equal([added], Ids(fourth));
        Assert.DoesNotContain(fourth.Link, l => l.Relation == "next");
        Assert.Equal(Ids(second), Ids(back));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Includes_come_with_their_own_page_and_an_overflow_is_reported(string backend)
    {
        var store = fixture[backend];
        var tag = StoreExtensions.Unique("inc");
        var patients = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            var patient = (await store.Send("POST", "Patient", new Patient())).Id!;
            patients.Add(patient);
            var obs = new Observation
            {
                Meta = new Meta { Tag = [new Coding("urn:test", tag)] },
                Status = ObservationStatus.Final,
                Code = new CodeableConcept("http://loinc.org", "8867-4"),
                Subject = new ResourceReference($"Patient/{patient}"),
            };
            Assert.Equal(201, (await store.Send("POST", "Observation", obs)).Status);
        }

        var query = $"Observation?_tag=urn:test|{tag}&_include=Observation:subject&_count=2";
        var pages = await Walk(store, query, "next");
        Assert.Equal(2, pages.Count);
        foreach (var page in pages)
        {
            var matchedSubjects = page.Entry.Where(e => e.Search.Mode == Bundle.SearchEntryMode.Match).Select(e => ((Observation)e.Resource).Subject.Reference).ToList();
            var included = page.Entry.Where(e => e.Search.Mode == Bundle.SearchEntryMode.Include).Select(e => "Patient/" + e.Resource.Id).ToList();
            Assert.Equal(matchedSubjects.Order(), included.Order());
        }

        store.Searcher.MaxIncluded = 1;
        try
        {
            var capped = await store.SearchAsync(query);
            Assert.Single(capped.Entry, e => e.Search.Mode == Bundle.SearchEntryMode.Include);
            var outcome = (OperationOutcome)capped.Entry.Single(e => e.Search.Mode == Bundle.SearchEntryMode.Outcome).Resource;
            Assert.Contains("1 of them are not in this bundle", outcome.Issue.Single().Diagnostics, StringComparison.Ordinal);
        }
        finally
        {
            store.Searcher.MaxIncluded = 1000;
        }
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task A_damaged_cursor_is_a_400(string backend)
    {
        var response = await fixture[backend].Send("GET", "Patient?_cursor=bm9wZQ");
        Assert.Equal(400, response.Status);
    }

    private static Patient Tagged(string tag) => new() { Meta = new Meta { Tag = [new Coding("urn:test", tag)] } };

    private static async Task<List<Bundle>> Walk(FhirStore store, string url, string relation)
    {
        var pages = new List<Bundle>();
        string? next = url;
        while (next is not null)
        {
            var page = await store.SearchAsync(next);
            pages.Add(page);
            next = page.Link.FirstOrDefault(l => l.Relation == relation)?.Url is { } link ? Relative(link) : null;
            Assert.True(pages.Count < 50, "paging does not end");
        }

        return pages;
    }

    private static List<string> Ids(Bundle bundle) =>
        bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource.Id!).ToList();

    private static string Relative(string url) => url["http://localhost/fhir/".Length..];
}
