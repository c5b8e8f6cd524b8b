using Hl7.Fhir.Model;

namespace Tessera.Governance.Relationships;

/// <summary>Local references as "Type/id", whether written relative or absolute, without a version.</summary>
internal static class References
{
    public static string? Local(ResourceReference? reference) => reference?.Reference is { } value ? Local(value) : null;

    public static string? Local(string value)
    {
        if (value.StartsWith('#') || value.StartsWith("urn:", StringComparison.Ordinal))
        {
            return null;
        }

        var q = value.IndexOfAny(['?', '#']);
        var segments = (q >= 0 ? value[..q] : value).TrimEnd('/').Split('/');
        var history = Array.IndexOf(segments, "_history");
        if (history >= 0)
        {
            segments = segments[..history];
        }

        return segments.Length >= 2 && ModelInfo.IsKnownResource(segments[^2]) && segments[^1].Length > 0 ? $"{segments[^2]}/{segments[^1]}" : null;
    }

    /// <summary>The id when the reference is to a resource of <paramref name="type"/>.</summary>
    public static string? IdOf(ResourceReference? reference, string type) =>
        Local(reference) is { } local && local.StartsWith(type + "/", StringComparison.Ordinal) ? local[(type.Length + 1)..] : null;
}
