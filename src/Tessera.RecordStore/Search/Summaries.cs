using Hl7.Fhir.Model;
using Hl7.Fhir.Rest;
using Hl7.Fhir.Serialization;
using Tessera.RecordStore.Serialization;

namespace Tessera.RecordStore.Search;

/// <summary>_summary and _elements, applied with the Firely serializer's own filters and marked SUBSETTED.</summary>
internal static class Summaries
{
    private static readonly FhirJsonSerializer Serializer = new();

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
        var json = Serializer.SerializeToString(resource, type, elements, false, false);
        var subset = FhirSerialization.ParseStored(json);
        subset.Meta ??= new Meta();
        if (!subset.Meta.Tag.Any(t => t.Code == "SUBSETTED"))
        {
            subset.Meta.Tag.Add(new Coding("http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "SUBSETTED"));
        }

        return subset;
    }
}
