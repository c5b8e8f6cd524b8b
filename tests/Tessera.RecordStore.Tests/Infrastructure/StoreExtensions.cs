using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;

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
        return (Bundle)response.Resource!;
    }

    public static T Body<T>(this FhirResponse response)
        where T : Resource => (T)FhirStore.Materialise(response);

    public static string Describe(FhirResponse response) =>
        response.Outcome is null ? string.Empty : string.Join("; ", response.Outcome.Issue.Select(i => i.Diagnostics));

    public static string Unique(string prefix = "t") => prefix + "-" + Guid.NewGuid().ToString("N")[..12];
}
