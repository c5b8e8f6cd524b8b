using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Microsoft.AspNetCore.Http;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;

namespace Tessera.Web.Fhir;

/// <summary>Writes a store response as HTTP: status, ETag, Last-Modified, Location, and a body shaped by Prefer, _format, _pretty, _summary and _elements.</summary>
internal static class FhirResponseWriter
{
    public static async System.Threading.Tasks.Task WriteAsync(HttpContext context, FhirRequest request, FhirResponse response)
    {
        var http = context.Response;
        http.StatusCode = response.Status;
        if (response.ETag is not null)
        {
            http.Headers.ETag = response.ETag;
        }

        if (response.LastModified is { } modified)
        {
            http.Headers.LastModified = modified.ToString("R", CultureInfo.InvariantCulture);
        }

        var location = response.Location(request.BaseUrl);
        if (location is not null && response.Status is 200 or 201 && request.Method is "POST" or "PUT" or "PATCH")
        {
            http.Headers.Location = location;
        }

        if (response.ContentLocation is not null)
        {
            http.Headers.ContentLocation = response.ContentLocation;
        }

        if (response.Status is 204 or 304 || request.Method == "HEAD")
        {
            return;
        }

        var isWrite = request.Method is "POST" or "PUT" or "PATCH" or "DELETE" && response.IsResourceBody && response.Status < 300;
        if (isWrite && request.PreferReturn == "minimal")
        {
            return;
        }

        Resource body;
        if (isWrite && request.PreferReturn == "OperationOutcome")
        {
            body = Outcomes.Information($"{request.Method} {request.Path}: {response.Status} {FhirStore.StatusText(response.Status)}; {response.ResourceType}/{response.Id} is now version {response.Version}.");
        }
        else if (response.HasRawBody && !FhirFormat.WantsXml(context.Request) && !FhirFormat.Pretty(context.Request))
        {
            // A searchset whose entries are still the stored JSON: spliced, not parsed and written again.
            await WriteBodyAsync(context, response.Body!.ToJsonUtf8(), false);
            return;
        }
        else if (response.Outcome is not null && response.Body is null && response.Resource is null && response.Json is null)
        {
            body = response.Outcome;
        }
        else
        {
            var xml = FhirFormat.WantsXml(context.Request);
            var pretty = FhirFormat.Pretty(context.Request);
            var (summary, elements) = SummaryOf(context.Request, response);
            if (!xml && !pretty && summary == SummaryType.False && elements is null && response.Json is not null)
            {
                // The stored JSON is already the response: no parse, no re-serialisation.
                await WriteBodyAsync(context, response.Json, false);
                return;
            }

            body = FhirStore.Materialise(response);
            await WriteBodyAsync(context, FhirSerialization.Write(body, xml, pretty, summary, elements), xml);
            return;
        }

        await WriteBodyAsync(context, FhirSerialization.Write(body, FhirFormat.WantsXml(context.Request), FhirFormat.Pretty(context.Request)), FhirFormat.WantsXml(context.Request));
    }

    private static (SummaryType, string[]?) SummaryOf(HttpRequest request, FhirResponse response)
    {
        // Searches apply _summary and _elements per entry themselves; reads apply them here.
        if (response.Body is not null || response.Resource is Bundle)
        {
            return (SummaryType.False, null);
        }

        var summary = request.Query["_summary"].FirstOrDefault() switch
        {
            "true" => SummaryType.True,
            "text" => SummaryType.Text,
            "data" => SummaryType.Data,
            "count" => SummaryType.Count,
            _ => SummaryType.False,
        };
        var elements = request.Query["_elements"].FirstOrDefault() is { Length: > 0 } e ? e.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null;
        return (summary, elements);
    }

    public static async System.Threading.Tasks.Task WriteOutcomeAsync(HttpContext context, int status, OperationOutcome outcome)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = status;
        var xml = FhirFormat.WantsXml(context.Request);
        await WriteBodyAsync(context, FhirSerialization.Write(outcome, xml, FhirFormat.Pretty(context.Request)), xml);
    }

    private static System.Threading.Tasks.Task WriteBodyAsync(HttpContext context, string body, bool xml) =>
        WriteBodyAsync(context, Encoding.UTF8.GetBytes(body), xml);

    private static async System.Threading.Tasks.Task WriteBodyAsync(HttpContext context, byte[] bytes, bool xml)
    {
        context.Response.ContentType = (xml ? FhirFormat.Xml : FhirFormat.Json) + "; charset=utf-8";
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

}
