using Microsoft.AspNetCore.Http;

namespace Tessera.Web.Fhir;

/// <summary>Content negotiation for FHIR: _format wins over Accept; JSON is the default.</summary>
internal static class FhirFormat
{
    public const string Json = "application/fhir+json";
    public const string Xml = "application/fhir+xml";
    public const string JsonPatch = "application/json-patch+json";

    public static bool WantsXml(HttpRequest request)
    {
        var format = request.Query["_format"].FirstOrDefault();
        if (!string.IsNullOrEmpty(format))
        {
            return format.Contains("xml", StringComparison.OrdinalIgnoreCase);
        }

        var accept = request.Headers.Accept.ToString();
        if (string.IsNullOrEmpty(accept))
        {
            return false;
        }

        var xmlAt = IndexOfAny(accept, "application/fhir+xml", "application/xml", "text/xml");
        var jsonAt = IndexOfAny(accept, "application/fhir+json", "application/json", "json");
        return xmlAt >= 0 && (jsonAt < 0 || xmlAt < jsonAt);
    }

    /// <summary>Whether the client asked for a format this server cannot produce (406).</summary>
    public static string? Unsupported(HttpRequest request)
    {
        var format = request.Query["_format"].FirstOrDefault();
        if (!string.IsNullOrEmpty(format) && !format.Contains("json", StringComparison.OrdinalIgnoreCase) && !format.Contains("xml", StringComparison.OrdinalIgnoreCase))
        {
            return format;
        }

        return null;
    }

    public static bool Pretty(HttpRequest request) =>
        string.Equals(request.Query["_pretty"].FirstOrDefault(), "true", StringComparison.OrdinalIgnoreCase);

    private static int IndexOfAny(string text, params string[] candidates) =>
        candidates.Select(c => text.IndexOf(c, StringComparison.OrdinalIgnoreCase)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
}
