using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>Token :in / :not-in against ValueSets held on the server, :above / :below against CodeSystem hierarchies, and _list.</summary>
public sealed class TerminologyTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task In_and_not_in_follow_compose_expansion_nesting_and_exclusions(string backend)
    {
        var store = fixture[backend];
        var (tag, system, url) = await Setup(store);
        var c1 = await Condition(store, tag, system, "root");
        var c2 = await Condition(store, tag, system, "child-a");
        var c3 = await Condition(store, tag, system, "grandchild");
        var c4 = await Condition(store, tag, "http://other.example/cs", "zzz");
        var c5 = await Condition(store, tag, system, "child-b");

        // Concepts listed, by canonical url.
        await Put(store, new ValueSet { Id = tag + "-listed", Url = url + "/listed", Status = PublicationStatus.Active, Compose = new ValueSet.ComposeComponent { Include = [new() { System = system, Concept = [new() { Code = "root" }, new() { Code = "child-b" }] }] } });
        // A filter on the hierarchy, by literal reference.
        await Put(store, new ValueSet { Id = tag + "-isa", Status = PublicationStatus.Active, Compose = new ValueSet.ComposeComponent { Include = [new() { System = system, Filter = [new() { Property = "concept", Op = FilterOperator.DescendentOf, Value = "child-a" }] }] } });
        // Whole systems minus one code, with a nested value set.
        await Put(store, new ValueSet
        {
            Id = tag + "-whole",
            Url = url + "/whole",
            Status = PublicationStatus.Active,
            Compose = new ValueSet.ComposeComponent
            {
                Include = [new() { System = system }, new() { ValueSet = [url + "/listed"] }],
                Exclude = [new() { System = system, Concept = [new() { Code = "child-a" }] }],
            },
        });
        // An expansion wins over compose.
        await Put(store, new ValueSet { Id = tag + "-expanded", Url = url + "/expanded", Status = PublicationStatus.Active, Expansion = new ValueSet.ExpansionComponent { Timestamp = "2024-01-01", Contains = [new() { System = "http://other.example/cs", Code = "zzz" }] } });

        await Finds(store, $"Condition?_tag=urn:test|{tag}&code:in={url}/listed", c1, c5);
        await Finds(store, $"Condition?_tag=urn:test|{tag}&code:in=ValueSet/{tag}-isa", c3);
        await Finds(store, $"Condition?_tag=urn:test|{tag}&code:in={url}/whole", c1, c3, c5);
        await Finds(store, $"Condition?_tag=urn:test|{tag}&code:in={url}/expanded", c4);
        await Finds(store, $"Condition?_tag=urn:test|{tag}&code:not-in={url}/listed", c2, c3, c4);
        Assert.Equal(400, (await store.Send("GET", $"Condition?code:in={url}/nowhere")).Status);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Above_and_below_follow_the_code_systems_hierarchy(string backend)
    {
        var store = fixture[backend];
        var (tag, system, _) = await Setup(store);
        var root = await Condition(store, tag, system, "root");
        var childA = await Condition(store, tag, system, "child-a");
        var grandchild = await Condition(store, tag, system, "grandchild");
        var childB = await Condition(store, tag, system, "child-b");

        await Finds(store, $"Condition?_tag=urn:test|{tag}&code:below={system}|child-a", childA, grandchild);
        await Finds(store, $"Condition?_tag=urn:test|{tag}&code:below={system}|root", root, childA, grandchild, childB);
        await Finds(store, $"Condition?_tag=urn:test|{tag}&code:above={system}|grandchild", root, childA, grandchild);
        Assert.Equal(400, (await store.Send("GET", $"Condition?code:below=child-a")).Status);
        Assert.Equal(400, (await store.Send("GET", $"Condition?code:below=http://unknown.example|x")).Status);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task List_finds_the_items_of_a_list(string backend)
    {
        var store = fixture[backend];
        var (tag, system, _) = await Setup(store);
        var a = await Condition(store, tag, system, "root");
        var b = await Condition(store, tag, system, "child-a");
        await Condition(store, tag, system, "child-b");
        var list = new List { Status = List.ListStatus.Current, Mode = ListMode.Working, Entry = [new() { Item = new ResourceReference($"Condition/{a}") }, new() { Item = new ResourceReference($"Condition/{b}") }] };
        var listId = (await store.Send("POST", "List", list)).Id!;

        await Finds(store, $"Condition?_list={listId}", a, b);
        await Finds(store, $"Condition?_list={listId}&code=root", a);
        Assert.Equal(400, (await store.Send("GET", "Condition?_list=$current-problems")).Status);
    }

    /// <summary>A code system root > child-a > grandchild, root > child-b (nesting and a parent property).</summary>
    private static async Task<(string Tag, string System, string Url)> Setup(FhirStore store)
    {
        var tag = StoreExtensions.Unique("term");
        var system = $"http://example.org/cs/{tag}";
        var grandchild = new CodeSystem.ConceptDefinitionComponent { Code = "grandchild" };
        var codeSystem = new CodeSystem
        {
            Url = system,
            Status = PublicationStatus.Active,
            Content = CodeSystemContentMode.Complete,
            Concept =
            [
                new() { Code = "root", Concept = [new() { Code = "child-a", Concept = [grandchild] }] },
                new() { Code = "child-b", Property = [new() { Code = "parent", Value = new Code("root") }] },
            ],
        };
        Assert.Equal(201, (await store.Send("POST", "CodeSystem", codeSystem)).Status);
        return (tag, system, $"http://example.org/vs/{tag}");
    }

    private static async System.Threading.Tasks.Task Put(FhirStore store, Resource resource) =>
        Assert.Equal(201, (await store.Send("PUT", $"{resource.TypeName}/{resource.Id}", resource)).Status);

    private static async Task<string> Condition(FhirStore store, string tag, string system, string code)
    {
        var condition = new Condition
        {
            Meta = new Meta { Tag = [new Coding("urn:test", tag)] },
            Code = new CodeableConcept(system, code),
            Subject = new ResourceReference("Patient/nobody"),
        };
        var response = await store.Send("POST", "Condition", condition);
        Assert.True(response.Status == 201, StoreExtensions.Describe(response));
        return response.Id!;
    }

    private static async System.Threading.Tasks.Task Finds(FhirStore store, string url, params string[] expected) =>
        Assert.Equal(expected.Order(), (await store.SearchAsync(url + "&_count=100")).Entry.Where(e => e.Search.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource.Id!).Order());
}
