namespace Tessera.RecordStore.Indexing;

/// <summary>
/// Great-circle distance for Location <c>near</c>. Two points are within distance d when the dot product of their
/// unit vectors is at least cos(d / R) — the same test as the haversine formula, in a form SQL can evaluate.
/// </summary>
internal static class GeoPoint
{
    /// <summary>Mean Earth radius in kilometres (IUGG).</summary>
    public const double EarthRadiusKm = 6371.0088;

    public static (double X, double Y, double Z) UnitVector(double latitude, double longitude)
    {
        var lat = latitude * Math.PI / 180;
        var lon = longitude * Math.PI / 180;
        return (Math.Cos(lat) * Math.Cos(lon), Math.Cos(lat) * Math.Sin(lon), Math.Sin(lat));
    }

    /// <summary>The smallest dot product of unit vectors at most <paramref name="kilometres"/> apart.</summary>
    public static double MinimumDot(double kilometres) => Math.Cos(Math.Min(Math.PI, kilometres / EarthRadiusKm));

    /// <summary>A distance in kilometres from a value and its unit (km, m, mi / [mi_i]).</summary>
    public static double? Kilometres(double value, string? unit) => unit switch
    {
        null or "" or "km" => value,
        "m" => value / 1000,
        "mi" or "[mi_i]" => value * 1.609344,
        _ => null,
    };
}
