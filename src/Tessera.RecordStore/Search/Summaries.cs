using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Serialization;
using Tessera.RecordStore.Serialization;

namespace Tessera.RecordStore.Search;

/// <summary>_summary and _elements, applied with the Firely serializer's own filters and marked SUBSETTED.</summary>
internal static class Summaries
{
    private static readonly FhirJsonSerializer Serializer = new();

    /// <summary>The top-level elements _elements always keeps per resource type: id, meta and the required ones (minimum cardinality 1).</summary>
    private static readonly ConcurrentDictionary<string, string[]> Mandatory = new(StringComparer.Ordinal);

    public static Resource Apply(Resource resource, string? summary, string[]? elements)
    {
        if (summary is null && elements is null)
        {
            return resource;
        }

        var type = summary switch
        {
            "true" => SummaryType.True,
            "text" => SummaryType.Text,
            "data" => SummaryType.Data,
            _ => SummaryType.False,
        };

        // The id and meta identify what was cut, and servers should return the mandatory elements whether they were
        // asked for or not (R4 search, _elements): without them the resource would not even parse.
        var kept = elements is null ? null : elements.Union(MandatoryElements(resource.TypeName), StringComparer.Ordinal).ToArray();
        var json = Serializer.SerializeToString(resource, type, kept, false, false);
        var subset = FhirSerialization.ParseStored(json);
        subset.Meta ??= new Meta();
        if (!subset.Meta.Tag.Any(t => t.Code == "SUBSETTED"))
        {
            subset.Meta.Tag.Add(new Coding("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED"));
        }

        return subset;
    }

    private static string[] MandatoryElements(string resourceType) =>
        Mandatory.GetOrAdd(resourceType, t => ModelInfo.ModelInspector.FindClassMapping(t) is { } mapping
            ? ["id", "meta", .. mapping.PropertyMappings.Where(p => p.IsMandatoryElement).Select(p => p.Name)]
            : ["id", "meta"]);
}
