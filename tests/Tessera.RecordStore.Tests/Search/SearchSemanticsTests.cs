using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// What the search semantics tests share: each test's resources are stored under readable ids made unique by the
/// test's tag (<c>{tag}-a</c>) and carry that tag, so a test searches only its own data and states its expectations
/// with the short names.
/// </summary>
internal static class SearchSemantics
{
    public const string TagSystem = "urn:test";

    public static string NewTag() => StoreExtensions.Unique("sem");

    /// <summary>Stores a resource as <c>{tag}-{name}</c>, tagged with the test's tag; returns its id.</summary>
    public static async Task<string> Put(FhirStore store, string tag, string name, Resource resource)
    {
        resource.Id = $"{tag}-{name}";
        resource.Meta ??= new Meta();
        if (!resource.Meta.Tag.Any(t => t.System == TagSystem && t.Code == tag))
        {
            resource.Meta.Tag.Add(new Coding(TagSystem, tag));
        }

        var response = await store.Send("PUT", $"{resource.TypeName}/{resource.Id}", resource);
        Assert.True(response.Status == 201, $"PUT {resource.TypeName}/{resource.Id} answered {response.Status}: {StoreExtensions.Describe(response)}");
        return resource.Id;
    }

    /// <summary>The search restricted to the test's tag: <c>Patient?family=x</c> becomes <c>Patient?_tag=urn:test|{tag}&amp;family=x</c>.</summary>
    public static string Scoped(string tag, string search)
    {
        var q = search.IndexOf('?', StringComparison.Ordinal);
        var (path, query) = q >= 0 ? (search[..q], search[(q + 1)..]) : (search, string.Empty);
        return $"{path}?_tag={TagSystem}|{tag}" + (query.Length > 0 ? "&" + query : string.Empty);
    }

    /// <summary>The short names of the matches of a search within the tag, in the order the server returned them.</summary>
    public static async Task<List<string>> Matches(FhirStore store, string tag, string search)
    {
        var bundle = await store.SearchAsync(Scoped(tag, search) + "&_count=100");
        return [.. bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => Short(tag, e.Resource.Id!))];
    }

    /// <summary>Asserts that the search (within the tag) matches exactly the named resources.</summary>
    public static async System.Threading.Tasks.Task Finds(FhirStore store, string tag, string search, params string[] expected)
    {
        var found = (await Matches(store, tag, search)).Order(StringComparer.Ordinal).ToList();
        var wanted = expected.Order(StringComparer.Ordinal).ToList();
        Assert.True(wanted.SequenceEqual(found), $"{search}: expected [{string.Join(", ", wanted)}] but found [{string.Join(", ", found)}]");
    }

    /// <summary>Asserts that the search (within the tag) returns exactly the named resources in this order.</summary>
    public static async System.Threading.Tasks.Task FindsInOrder(FhirStore store, string tag, string search, params string[] expected)
    {
        var found = await Matches(store, tag, search);
        Assert.True(expected.SequenceEqual(found), $"{search}: expected [{string.Join(", ", expected)}] in this order but found [{string.Join(", ", found)}]");
    }

    /// <summary>Asserts a search is refused with 400 and an OperationOutcome that carries an error.</summary>
    public static async System.Threading.Tasks.Task Refuses(FhirStore store, string search, Func<FhirRequest, FhirRequest>? adjust = null)
    {
        var response = await store.Send("GET", search, adjust: adjust);
        Assert.True(response.Status == 400, $"GET {search} answered {response.Status}, not 400");
        Assert.NotNull(response.Outcome);
        Assert.Contains(response.Outcome.Issue, i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal);
    }

    public static string Short(string tag, string id) => id.StartsWith(tag + "-", StringComparison.Ordinal) ? id[(tag.Length + 1)..] : id;
}
