using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;

namespace Tessera.RecordStore.Tests.Infrastructure;

internal static class StoreExtensions
{
    public static Task<FhirResponse> Send(this FhirStore store, string method, string url, Resource? body = null, Func<FhirRequest, FhirRequest>? adjust = null)
    {
        var request = FhirRequest.FromUrl(method, url, body);
        return store.ExecuteAsync(adjust is null ? request : adjust(request));
    }

    public static async Task<Bundle> SearchAsync(this FhirStore store, string url)
    {
        var response = await store.Send("GET", url);
        Assert.True(response.Status == 200, $"GET {url} answered {response.Status}: {Describe(response)}");
        if (!response.HasRawBody)
        {
            return (Bundle)response.Resource!;
        }

        // Every search the tests run also checks the spliced JSON a server writes: it parses strictly, and it is
        // exactly the bundle built from the same entries as objects.
        var spliced = (Bundle)FhirSerialization.ParseJson(System.Text.Encoding.UTF8.GetString(response.Body!.ToJsonUtf8()));
        var built = (Bundle)response.Resource!;
        Assert.True(spliced.IsExactly(built), $"GET {url}: the spliced searchset differs from the bundle built from its entries");
        return spliced;
    }

    /// <summary>Creates a resource (POST), which must succeed, and gives its id.</summary>
    public static async Task<string> CreateAsync(this FhirStore store, Resource resource)
    {
        var response = await store.Send("POST", resource.TypeName, resource);
        Assert.True(response.Status == 201, Describe(response));
        return response.Id!;
    }

    /// <summary>The ids of a search's matches (up to 100), in id order.</summary>
    public static async Task<List<string>> MatchIdsAsync(this FhirStore store, string url) =>
        [.. (await store.SearchAsync(url + "&_count=100")).Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource.Id!).Order()];

    public static T Body<T>(this FhirResponse response)
        where T : Resource => (T)FhirStore.Materialise(response);

    public static string Describe(FhirResponse response) =>
        response.Outcome is null ? string.Empty : string.Join("; ", response.Outcome.Issue.Select(i => i.Diagnostics));

    public static string Unique(string prefix = "t") => prefix + "-" + Guid.NewGuid().ToString("N")[..12];
}
