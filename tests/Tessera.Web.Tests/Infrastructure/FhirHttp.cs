using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Tessera.Web.Tests.Infrastructure;

/// <summary>A FHIR HTTP response with its body read, and the accessors the contract tests assert on.</summary>
public sealed class FhirResult(HttpResponseMessage message, string body)
{
    private JsonNode? _json;

    public HttpResponseMessage Message { get; } = message;

    public int Status => (int)Message.StatusCode;

    public string Body { get; } = body;

    /// <summary>The body as JSON (fails the test with the body when it is not JSON).</summary>
    public JsonNode Json => _json ??= Parse(Body);

    public string? ContentType => Message.Content.Headers.ContentType?.MediaType;

    public string? ETag => Message.Headers.ETag?.ToString();

    public string? Location => Message.Headers.Location?.ToString();

    public DateTimeOffset? LastModified => Message.Content.Headers.LastModified;

    public string? Header(string name) =>
        Message.Headers.TryGetValues(name, out var values) ? string.Join(",", values)
        : Message.Content.Headers.TryGetValues(name, out var content) ? string.Join(",", content)
        : null;

    public string? ResourceType => Json["resourceType"]?.GetValue<string>();

    public string? Id => Json["id"]?.GetValue<string>();

    public override string ToString() => $"{Status} {(Body.Length > 2000 ? Body[..2000] + "…" : Body)}";

    private static JsonNode Parse(string body)
    {
        try
        {
            return JsonNode.Parse(body) ?? throw new Xunit.Sdk.XunitException("The response body is JSON null.");
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"The response body is not JSON ({e.Message}): {body}");
        }
    }
}

/// <summary>Sends FHIR requests the way a client would: raw bodies, explicit content types and headers.</summary>
public static class FhirHttp
{
    public const string FhirJson = "application/fhir+json";
    public const string FhirXml = "application/fhir+xml";
    public const string JsonPatch = "application/json-patch+json";

    public static async Task<FhirResult> SendAsync(this HttpClient client, string method, string url, string? body = null, string? contentType = FhirJson, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (body is not null)
        {
            var content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
            if (contentType is not null)
            {
                content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
            }

            request.Content = content;
        }

        foreach (var (name, value) in headers)
        {
            if (!request.Headers.TryAddWithoutValidation(name, value))
            {
                request.Content ??= new ByteArrayContent([]);
                request.Content.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return await ReadAsync(await client.SendAsync(request));
    }

    public static async Task<FhirResult> SendBytesAsync(this HttpClient client, string method, string url, byte[] body, string contentType)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return await client.SendFhirAsync(request);
    }

    public static async Task<FhirResult> SendFhirAsync(this HttpClient client, HttpRequestMessage request) =>
        await ReadAsync(await client.SendAsync(request));

    private static async Task<FhirResult> ReadAsync(HttpResponseMessage response) =>
        new(response, await response.Content.ReadAsStringAsync());

    public static Task<FhirResult> FhirGetAsync(this HttpClient client, string url, params (string Name, string Value)[] headers) =>
        client.SendAsync("GET", url, null, null, headers);

    public static Task<FhirResult> FhirPostAsync(this HttpClient client, string url, string body, params (string Name, string Value)[] headers) =>
        client.SendAsync("POST", url, body, FhirJson, headers);

    public static Task<FhirResult> FhirPutAsync(this HttpClient client, string url, string body, params (string Name, string Value)[] headers) =>
        client.SendAsync("PUT", url, body, FhirJson, headers);

    public static Task<FhirResult> FhirDeleteAsync(this HttpClient client, string url, params (string Name, string Value)[] headers) =>
        client.SendAsync("DELETE", url, null, null, headers);

    /// <summary>Creates a resource and asserts the 201.</summary>
    public static async Task<FhirResult> CreateAsync(this HttpClient client, string type, string json)
    {
        var created = await client.FhirPostAsync($"/fhir/{type}", json);
        Assert.True(created.Status == 201, $"create {type}: {created}");
        return created;
    }

    /// <summary>Follows a bundle's "next" links to the end and returns every page.</summary>
    public static async Task<List<JsonNode>> AllPagesAsync(this HttpClient client, string url, int maxPages = 100)
    {
        var pages = new List<JsonNode>();
        string? next = url;
        while (next is not null)
        {
            var page = await client.FhirGetAsync(next);
            Assert.True(page.Status == 200, $"GET {next}: {page}");
            pages.Add(page.Json);
            next = FhirData.Link(page.Json, "next");
            Assert.True(pages.Count <= maxPages, $"more than {maxPages} pages following next links from {url}");
        }

        return pages;
    }

    /// <summary>
    /// Identifies the newest stored version (system history, newest first): it changes with every write, so
    /// equal fingerprints before and after a request mean the request wrote nothing.
    /// </summary>
    public static async Task<string> WriteFingerprintAsync(this HttpClient client)
    {
        var system = await client.FhirGetAsync("/fhir/_history?_count=1");
        Assert.True(system.Status == 200, $"system history: {system}");
        var patients = await client.FhirGetAsync("/fhir/Patient/_history?_count=1");
        Assert.True(patients.Status == 200, $"Patient history: {patients}");
        return Top(system.Json) + " | " + Top(patients.Json);

        static string Top(JsonNode bundle) => bundle["entry"]?[0] is { } e
            ? $"{e["fullUrl"]} {e["response"]?["etag"]} {e["response"]?["lastModified"]}"
            : "(empty)";
    }

    /// <summary>The number of resources a search matches (asks for an accurate total).</summary>
    public static async Task<int> CountAsync(this HttpClient client, string search)
    {
        var separator = search.Contains('?', StringComparison.Ordinal) ? "&" : "?";
        var result = await client.FhirGetAsync($"/fhir/{search}{separator}_total=accurate&_count=0");
        Assert.True(result.Status == 200, $"search {search}: {result}");
        return result.Json["total"]!.GetValue<int>();
    }
}
