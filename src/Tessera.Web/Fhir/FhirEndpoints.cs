using System.Buffers;
using System.Security.Claims;
using System.Text;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;
using Tessera.Web.Auth;
using Tessera.Web.Hosting;

namespace Tessera.Web.Fhir;

/// <summary>The FHIR REST API at /fhir: HTTP in, <see cref="FhirRequest"/> to the store, HTTP out.</summary>
internal static class FhirEndpoints
{
    public const string Base = "/fhir";

    public static void Map(WebApplication app)
    {
        app.Map(Base + "/{**path}", HandleAsync);
        app.Map(Base, HandleAsync);
    }

    private static async System.Threading.Tasks.Task HandleAsync(HttpContext context)
    {
        var store = context.RequestServices.GetRequiredService<FhirStore>();
        var options = context.RequestServices.GetRequiredService<IOptions<TesseraOptions>>().Value;
        FhirRequest? request = null;
        try
        {
            if (FhirFormat.Unsupported(context.Request) is { } format)
            {
                throw new FhirException(406, Outcomes.Error(OperationOutcome.IssueType.NotSupported, $"_format '{format}' is not supported: use json or xml."));
            }

            ClaimsPrincipal? caller = null;
            if (!IsPublic(context.Request))
            {
                caller = await FhirAuthentication.AuthenticateAsync(context);
                if (caller is null)
                {
                    return;
                }
            }

            request = await BuildRequestAsync(context, options) with { Principal = caller };
            var response = await store.ExecuteAsync(request, context.RequestAborted);
            if (response.Body is null && response.Resource is CapabilityStatement statement)
            {
                SmartConfiguration.Describe(statement, FhirAuthentication.ServerBaseUrl(context, options));
            }

            await FhirResponseWriter.WriteAsync(context, request, response);
        }
        catch (FhirException e)
        {
            await FhirResponseWriter.WriteOutcomeAsync(context, e.Status, e.Outcome);
        }
    }

    /// <summary>The CapabilityStatement is public (SMART clients read it before they have a token).</summary>
    private static bool IsPublic(HttpRequest request) =>
        request.Method is "GET" or "HEAD" && (request.Path.Value?.TrimEnd('/') ?? string.Empty).Equals(Base + "/metadata", StringComparison.Ordinal);

    private static async Task<FhirRequest> BuildRequestAsync(HttpContext context, TesseraOptions options)
    {
        var http = context.Request;
        var path = (http.Path.Value ?? string.Empty);
        path = path.Length > Base.Length ? path[(Base.Length + 1)..].Trim('/') : string.Empty;
        var baseUrl = options.PublicBaseUrl?.TrimEnd('/') ?? $"{http.Scheme}://{http.Host}{http.PathBase}{Base}";
        var query = http.Query.SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? string.Empty))).ToList();
        var prefer = ParsePrefer(http.Headers["Prefer"].ToString());

        Resource? resource = null;
        string? jsonPatch = null;
        if (http.Method is "POST" or "PUT" or "PATCH")
        {
            var body = await ReadBodyAsync(context, options.MaxBodyBytes);
            var contentType = http.ContentType ?? string.Empty;
            if (path.EndsWith("_search", StringComparison.Ordinal) && http.Method == "POST")
            {
                if (body.Length > 0 && !contentType.StartsWith("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
                {
                    throw new FhirException(415, Outcomes.Error(OperationOutcome.IssueType.NotSupported, "POST _search takes application/x-www-form-urlencoded parameters."));
                }

                query.AddRange(FhirRequest.ParseQuery(body));
            }
            else if (body.Length > 0)
            {
                if (contentType.Contains("json-patch", StringComparison.OrdinalIgnoreCase))
                {
                    if (http.Method != "PATCH")
                    {
                        throw new FhirException(415, Outcomes.Error(OperationOutcome.IssueType.NotSupported, $"A JSON Patch document is only accepted by PATCH; send {http.Method} bodies as application/fhir+json or application/fhir+xml."));
                    }

                    jsonPatch = body;
                }
                else if (contentType.Contains("xml", StringComparison.OrdinalIgnoreCase))
                {
                    resource = FhirSerialization.ParseXml(body);
                }
                else if (contentType.Length == 0 || contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
                {
                    resource = FhirSerialization.ParseJson(body);
                }
                else
                {
                    throw new FhirException(415, Outcomes.Error(OperationOutcome.IssueType.NotSupported, $"Content-Type '{contentType}' is not supported: send application/fhir+json or application/fhir+xml."));
                }
            }
        }

        return new FhirRequest
        {
            Method = http.Method.ToUpperInvariant(),
            Path = path,
            Query = query,
            Resource = resource,
            JsonPatch = jsonPatch,
            IfMatch = NullIfEmpty(http.Headers.IfMatch.ToString()),
            IfNoneMatch = NullIfEmpty(http.Headers.IfNoneMatch.ToString()),
            IfNoneExist = NullIfEmpty(http.Headers["If-None-Exist"].ToString()),
            IfModifiedSince = http.GetTypedHeaders().IfModifiedSince,
            PreferReturn = prefer.TryGetValue("return", out var r) ? r : null,
            StrictHandling = prefer.TryGetValue("handling", out var h) && h == "strict",
            BaseUrl = baseUrl,
            ClientAddress = context.Connection.RemoteIpAddress?.ToString(),
        };
    }

    private static async Task<string> ReadBodyAsync(HttpContext context, long maxBytes)
    {
        var declared = context.Request.ContentLength;
        if (declared > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        if (declared == 0)
        {
            return string.Empty;
        }

        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
        {
            feature.MaxRequestBodySize = null;
        }

        // The body goes into a pooled array: one of the declared length (and a byte more, so the end is seen without
        // growing it), or, for a chunked body, one that doubles as the body comes. Every write request passes here.
        var pool = ArrayPool<byte>.Shared;
        var buffer = pool.Rent(declared is { } length ? (int)Math.Min(length + 1, Array.MaxLength) : 16 * 1024);
        var filled = 0;
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(buffer.AsMemory(filled), context.RequestAborted)) > 0)
            {
                filled += read;
                if (filled > maxBytes)
                {
                    throw TooLarge(maxBytes);
                }

                if (filled == buffer.Length)
                {
                    var size = Math.Min(Math.Min(2L * buffer.Length, maxBytes + 1), Array.MaxLength);
                    if (size <= filled)
                    {
                        throw TooLarge(maxBytes);
                    }

                    var larger = pool.Rent((int)size);
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    pool.Return(buffer);
                    buffer = larger;
                }
            }

            return Encoding.UTF8.GetString(buffer, 0, filled);
        }
        finally
        {
            pool.Return(buffer);
        }
    }

    private static FhirException TooLarge(long maxBytes) =>
        new(413, Outcomes.Error(OperationOutcome.IssueType.TooCostly, $"The request body is larger than the {DescribeSize(maxBytes)} this server accepts (Tessera:MaxBodyBytes); split it into several requests or bundles."));

    private static string DescribeSize(long bytes) => bytes switch
    {
        >= 1024 * 1024 when bytes % (1024 * 1024) == 0 => $"{bytes / (1024 * 1024)} MiB",
        >= 1024 when bytes % 1024 == 0 => $"{bytes / 1024} KiB",
        _ => $"{bytes} bytes",
    };

    private static Dictionary<string, string> ParsePrefer(string header)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var part in header.Split([',', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                result[part[..eq].Trim()] = part[(eq + 1)..].Trim().Trim('"');
            }
        }

        return result;
    }

    private static string? NullIfEmpty(string value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
