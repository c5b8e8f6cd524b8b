using System.Globalization;

namespace Tessera.RecordStore.Indexing;

/// <summary>
/// A FHIR date, dateTime or instant as the range of milliseconds it covers (its precision makes it a range:
/// "2024" is the whole year). Values without a time zone are taken as UTC.
/// </summary>
public readonly record struct FhirDateRange(long Low, long High)
{
    public static bool TryParse(string? text, out FhirDateRange range)
    {
        range = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        var ci = CultureInfo.InvariantCulture;
        try
        {
            if (text.Length == 4 && int.TryParse(text, NumberStyles.None, ci, out var y))
            {
                var start = new DateTimeOffset(y, 1, 1, 0, 0, 0, TimeSpan.Zero);
                range = new FhirDateRange(Ms(start), Ms(start.AddYears(1)) - 1);
                return true;
            }

            if (text.Length == 7 && DateTime.TryParseExact(text, "yyyy-MM", ci, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var ym))
            {
                var start = new DateTimeOffset(ym.Year, ym.Month, 1, 0, 0, 0, TimeSpan.Zero);
                range = new FhirDateRange(Ms(start), Ms(start.AddMonths(1)) - 1);
                return true;
            }

            if (text.Length == 10 && DateTime.TryParseExact(text, "yyyy-MM-dd", ci, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var d))
            {
                var start = new DateTimeOffset(d.Year, d.Month, d.Day, 0, 0, 0, TimeSpan.Zero);
                range = new FhirDateRange(Ms(start), Ms(start.AddDays(1)) - 1);
                return true;
            }

            if (text.Length > 10 && text[10] == 'T')
            {
                var hasZone = text.EndsWith('Z') || text.LastIndexOfAny(['+', '-']) > 10;
                var styles = DateTimeStyles.AdjustToUniversal | (hasZone ? DateTimeStyles.None : DateTimeStyles.AssumeUniversal);
                if (!DateTimeOffset.TryParse(text, ci, styles, out var dt))
                {
                    return false;
                }

                // Precision: minutes, seconds or fractions decide the width of the range.
                var timePart = text[11..];
                var zoneAt = timePart.IndexOfAny(['Z', '+', '-']);
                var clock = zoneAt >= 0 ? timePart[..zoneAt] : timePart;
                long width = clock.Length switch
                {
                    5 => 60_000,
                    8 => 1_000,
                    _ => 1,
                };
                var low = Ms(dt);
                if (clock.Length > 8)
                {
                    var digits = clock.Length - 9;
                    width = digits >= 3 ? 1 : (long)Math.Pow(10, 3 - digits);
                }

                range = new FhirDateRange(low, low + width - 1);
                return true;
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }

        return false;
    }

    public static long Ms(DateTimeOffset value) => value.ToUnixTimeMilliseconds();
}
