using System.Security.Claims;
using Hl7.Fhir.Model;

namespace Tessera.RecordStore.Interactions;

/// <summary>
/// One FHIR interaction, independent of HTTP: the REST host and the bundle processor both build these,
/// so a transaction entry behaves exactly like the same request sent on its own.
/// </summary>
public sealed record FhirRequest
{
    public required string Method { get; init; }

    /// <summary>Path relative to the FHIR base, without query: "Patient/1/_history/2".</summary>
    public required string Path { get; init; }

    public IReadOnlyList<KeyValuePair<string, string>> Query { get; init; } = [];

    public Resource? Resource { get; init; }

    /// <summary>The raw body of a PATCH with a JSON Patch document.</summary>
    public string? JsonPatch { get; init; }

    public string? IfMatch { get; init; }

    public string? IfNoneMatch { get; init; }

    public string? IfNoneExist { get; init; }

    public DateTimeOffset? IfModifiedSince { get; init; }

    /// <summary>Prefer: return=minimal | representation | OperationOutcome (null when not asked).</summary>
    public string? PreferReturn { get; init; }

    /// <summary>Whether unknown search parameters are an error (Prefer: handling=strict).</summary>
    public bool StrictHandling { get; init; }

    /// <summary>The absolute FHIR base URL, for fullUrls and links ("https://host/fhir").</summary>
    public string BaseUrl { get; init; } = "http://localhost/fhir";

    /// <summary>
    /// The authenticated caller (access token claims: sub, client_id, scope, fhirUser, tessera_role, patient, ...),
    /// set by the web host; null means an internal caller (the CLI, the HL7 pipeline, store tests).
    /// </summary>
    public ClaimsPrincipal? Principal { get; init; }

    /// <summary>The network address the request came from, for the audit trail (null for internal callers).</summary>
    public string? ClientAddress { get; init; }

    public static FhirRequest FromUrl(string method, string relativeUrl, Resource? resource = null, string baseUrl = "http://localhost/fhir")
    {
        var q = relativeUrl.IndexOf('?', StringComparison.Ordinal);
        var path = (q >= 0 ? relativeUrl[..q] : relativeUrl).Trim('/');
        var query = q >= 0 ? ParseQuery(relativeUrl[(q + 1)..]) : [];
        return new FhirRequest { Method = method.ToUpperInvariant(), Path = path, Query = query, Resource = resource, BaseUrl = baseUrl };
    }

    public static List<KeyValuePair<string, string>> ParseQuery(string query)
    {
        var list = new List<KeyValuePair<string, string>>();
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString((eq >= 0 ? pair[..eq] : pair).Replace('+', ' '));
            var value = eq >= 0 ? Uri.UnescapeDataString(pair[(eq + 1)..].Replace('+', ' ')) : string.Empty;
            list.Add(new(key, value));
        }

        return list;
    }
}

/// <summary>The outcome of one interaction, before it is written as HTTP or as a bundle entry response.</summary>
public sealed record FhirResponse
{
    public int Status { get; init; } = 200;

    private Resource? _resource;

    /// <summary>
    /// The resource to return, when one was parsed or built. For a search answered as a <see cref="SearchBody"/>
    /// this is the bundle built from it on first use; from then on the bundle object is what is returned.
    /// </summary>
    public Resource? Resource
    {
        get => _resource ??= Body?.ToBundle();
        init => _resource = value;
    }

    /// <summary>A searchset kept as stored JSON (see <see cref="SearchBody"/>).</summary>
    public SearchBody? Body { get; init; }

    /// <summary>The searchset can still be written from <see cref="Body"/>: nobody has asked for it as an object.</summary>
    public bool HasRawBody => Body is not null && _resource is null;

    /// <summary>The stored JSON of the resource, returned as-is when no transformation is asked for.</summary>
    public string? Json { get; init; }

    public string? ResourceType { get; init; }

    public string? Id { get; init; }

    public long? Version { get; init; }

    /// <summary>
    /// The patient whose compartment the returned version is in, as stored with it, when the resource was read from
    /// the store (null otherwise, and for a resource in no patient's compartment).
    /// </summary>
    public string? PatientKey { get; init; }

    public DateTimeOffset? LastModified { get; init; }

    public OperationOutcome? Outcome { get; init; }

    /// <summary>Content-Location, e.g. the status of an asynchronous job an operation started (202).</summary>
    public string? ContentLocation { get; init; }

    /// <summary>Whether the body is a complete resource (a read or write) rather than a bundle or outcome.</summary>
    public bool IsResourceBody => Body is null && (Resource is not null && Resource is not Bundle && Resource is not OperationOutcome || Json is not null);

    public string? Location(string baseUrl) =>
        ResourceType is not null && Id is not null && Version is not null ? $"{baseUrl.TrimEnd('/')}/{ResourceType}/{Id}/_history/{Version}" : null;

    public string? ETag => Version is null ? null : $"W/\"{Version}\"";
}
