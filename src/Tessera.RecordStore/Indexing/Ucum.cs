using System.Collections.Concurrent;
using Fhir.Metrics;

namespace Tessera.RecordStore.Indexing;

/// <summary>
/// UCUM canonical units (Fhir.Metrics): a quantity in <c>http://unitsofmeasure.org</c> is also indexed in the
/// canonical unit of its dimension (mg and g both as g; mmol/L as m-3), so a search in any commensurable unit
/// finds it. Only units with a linear conversion have a canonical form; Cel, [degF] and units UCUM does not know
/// are indexed and searched as given.
/// </summary>
internal static class Ucum
{
    public const string System = "http://unitsofmeasure.org";

    /// <summary>The suffix of the index rows that hold the canonical form.</summary>
    public const string CanonicalSuffix = ":ucum";

    private static readonly ConcurrentDictionary<string, (double Factor, string Unit)?> Units = new(StringComparer.Ordinal);

    /// <summary>The factor to the canonical unit and that unit's code, or null when the code has no linear canonical form.</summary>
    public static (double Factor, string Unit)? Canonical(string? system, string? code)
    {
        if (system != System || string.IsNullOrEmpty(code))
        {
            return null;
        }

        return Units.GetOrAdd(code, static c =>
        {
            try
            {
                if (FhirMetricService.Instance.Value.TryCanonicalize((1m, c, System), out var one) && one is { } canonical
                    && canonical.Item1 > 0 && FhirMetricService.Instance.Value.TryCanonicalize((2m, c, System), out var two) && two is { } twice
                    && Math.Abs(twice.Item1 - (2 * canonical.Item1)) <= twice.Item1 / 1_000_000_000m)
                {
                    // Linear (no offset, as Celsius would have): twice the value is twice the canonical value.
                    return ((double)canonical.Item1, canonical.Item2);
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or OverflowException or KeyNotFoundException or NullReferenceException)
            {
                // A unit Fhir.Metrics cannot parse: indexed and searched as given.
            }

            return null;
        });
    }
}
