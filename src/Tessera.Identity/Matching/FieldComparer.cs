namespace Tessera.Identity.Matching;

/// <summary>
/// Compares two prepared records field by field, giving each field an agreement level (0 strongest) or
/// <see cref="Missing"/> when either side has no value, which then carries no weight either way.
/// </summary>
internal static class FieldComparer
{
    public const int Missing = -1;

    public static void Compare(PreparedRecord a, PreparedRecord b, Span<int> levels)
    {
        levels[(int)MatchField.NhsNumber] = CompareNhs(a, b);
        levels[(int)MatchField.GivenName] = CompareGiven(a, b);
        levels[(int)MatchField.FamilyName] = CompareFamily(a, b);
        levels[(int)MatchField.BirthDate] = CompareBirthDate(a.BirthDate, b.BirthDate, a.BirthDigits, b.BirthDigits);
        levels[(int)MatchField.Sex] = CompareSex(a, b);
        levels[(int)MatchField.Postcode] = ComparePostcode(a, b);
        levels[(int)MatchField.AddressLine] = CompareAddress(a, b);
        levels[(int)MatchField.Town] = CompareTown(a.Town, b.Town);
        levels[(int)MatchField.Phone] = ComparePhone(a.Phone, b.Phone);
        levels[(int)MatchField.Email] = CompareEmail(a, b);
        levels[(int)MatchField.LocalIdentifier] = CompareIdentifier(a.LocalId, b.LocalId);
    }

    public static int CompareSex(PreparedRecord a, PreparedRecord b) =>
        a.Sex == RecordedSex.Unknown || b.Sex == RecordedSex.Unknown ? Missing : a.Sex == b.Sex ? 0 : 1;

    public static int CompareIdentifier(string? a, string? b)
    {
        if (a is null || b is null)
        {
            return Missing;
        }

        if (a == b)
        {
            return 0;
        }

        return StringSimilarity.DamerauLevenshtein(a, b) == 1 ? 1 : 2;
    }

    public static int CompareNhs(PreparedRecord a, PreparedRecord b) =>
        a.Nhs is null || b.Nhs is null ? Missing : a.Nhs == b.Nhs ? 0 : 1;

    public static int CompareGiven(PreparedRecord a, PreparedRecord b)
    {
        if (a.GivenFirst is null || b.GivenFirst is null)
        {
            return Missing;
        }

        var level = CompareName(a.GivenFirst, b.GivenFirst, a.GivenKeys, b.GivenKeys);
        if (level > NameLevel.Exact && (a.GivenFull != a.GivenFirst || b.GivenFull != b.GivenFirst))
        {
            // "Mary Ann" against "Maryann": compare the names run together as well.
            level = Math.Min(level, CompareName(a.GivenFull!, b.GivenFull!, a.GivenKeys, b.GivenKeys));
        }

        if (level >= NameLevel.SoundsAlike && IsSwapped(a, b))
        {
            return NameLevel.Swapped;
        }

        return level;
    }

    public static int CompareFamily(PreparedRecord a, PreparedRecord b)
    {
        if (a.Family is null || b.Family is null)
        {
            return Missing;
        }

        var level = CompareName(a.Family, b.Family, a.FamilyKeys, b.FamilyKeys);
        if (level > NameLevel.Exact && a.PreviousFamily is not null)
        {
            level = Math.Min(level, CompareName(a.PreviousFamily, b.Family, a.PreviousFamilyKeys, b.FamilyKeys));
        }

        if (level > NameLevel.Exact && b.PreviousFamily is not null)
        {
            level = Math.Min(level, CompareName(a.Family, b.PreviousFamily, a.FamilyKeys, b.PreviousFamilyKeys));
        }

        if (level >= NameLevel.SoundsAlike && IsSwapped(a, b))
        {
            return NameLevel.Swapped;
        }

        return level;
    }

    public static int CompareName(string a, string b, DoubleMetaphone.Keys aKeys, DoubleMetaphone.Keys bKeys)
    {
        if (a == b)
        {
            return NameLevel.Exact;
        }

        var jw = StringSimilarity.JaroWinkler(a, b);
        if (jw >= 0.92)
        {
            return NameLevel.VeryClose;
        }

        if (jw >= 0.88)
        {
            return NameLevel.Close;
        }

        return aKeys.SharesKeyWith(bKeys) ? NameLevel.SoundsAlike : NameLevel.Different;
    }

    private static bool IsSwapped(PreparedRecord a, PreparedRecord b)
    {
        if (a.GivenFirst is null || b.GivenFirst is null || a.Family is null || b.Family is null)
        {
            return false;
        }

        return StringSimilarity.JaroWinkler(a.GivenFirst, b.Family) >= 0.92 && StringSimilarity.JaroWinkler(a.Family, b.GivenFirst) >= 0.92;
    }

    public static int CompareBirthDate(DateOnly? a, DateOnly? b, string? aDigits, string? bDigits)
    {
        if (a is not { } x || b is not { } y)
        {
            return Missing;
        }

        if (x == y)
        {
            return 0;
        }

        if (x.Year == y.Year && x.Month == y.Day && x.Day == y.Month)
        {
            return 1;
        }

        var differentDigits = 0;
        for (var i = 0; i < 8; i++)
        {
            if (aDigits![i] != bDigits![i])
            {
                differentDigits++;
            }
        }

        if (differentDigits == 1)
        {
            return 2;
        }

        var sameParts = (x.Year == y.Year ? 1 : 0) + (x.Month == y.Month ? 1 : 0) + (x.Day == y.Day ? 1 : 0);
        if (sameParts == 2)
        {
            return 3;
        }

        return Math.Abs(x.Year - y.Year) <= 1 ? 4 : 5;
    }

    public static int ComparePostcode(PreparedRecord a, PreparedRecord b)
    {
        if (a.Postcode is null || b.Postcode is null)
        {
            return Missing;
        }

        if (a.Postcode == b.Postcode)
        {
            return 0;
        }

        if (a.PostcodeSector is not null && a.PostcodeSector == b.PostcodeSector)
        {
            return 1;
        }

        if (a.PostcodeDistrict is not null && a.PostcodeDistrict == b.PostcodeDistrict)
        {
            return 2;
        }

        return StringSimilarity.DamerauLevenshtein(a.Postcode, b.Postcode) == 1 ? 3 : 4;
    }

    public static int CompareAddress(PreparedRecord a, PreparedRecord b)
    {
        if (a.Address is null || b.Address is null)
        {
            return Missing;
        }

        if (a.Address == b.Address || a.AddressSorted == b.AddressSorted)
        {
            return 0;
        }

        var similarity = StringSimilarity.MongeElkan(a.AddressTokens, b.AddressTokens);
        if (similarity >= 0.92)
        {
            return 1;
        }

        if (similarity >= 0.8)
        {
            return 2;
        }

        return 3;
    }

    public static int CompareTown(string? a, string? b)
    {
        if (a is null || b is null)
        {
            return Missing;
        }

        if (a == b)
        {
            return 0;
        }

        return StringSimilarity.JaroWinkler(a, b) >= 0.88 ? 1 : 2;
    }

    public static int ComparePhone(string? a, string? b)
    {
        if (a is null || b is null)
        {
            return Missing;
        }

        if (a == b)
        {
            return 0;
        }

        return a.Length == b.Length && StringSimilarity.DamerauLevenshtein(a, b) == 1 ? 1 : 2;
    }

    public static int CompareEmail(PreparedRecord a, PreparedRecord b)
    {
        if (a.Email is null || b.Email is null)
        {
            return Missing;
        }

        if (a.Email == b.Email)
        {
            return 0;
        }

        return (a.EmailLocal is not null && a.EmailLocal == b.EmailLocal) || StringSimilarity.DamerauLevenshtein(a.Email, b.Email) == 1 ? 1 : 2;
    }

    /// <summary>The values compared for a field, as shown in an explanation.</summary>
    public static (string? Left, string? Right) DisplayValues(MatchField field, PreparedRecord a, PreparedRecord b) => field switch
    {
        MatchField.NhsNumber => (a.Record.NhsNumber, b.Record.NhsNumber),
        MatchField.GivenName => (a.Record.GivenNames, b.Record.GivenNames),
        MatchField.FamilyName => (JoinFamily(a.Record), JoinFamily(b.Record)),
        MatchField.BirthDate => (a.BirthDate?.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), b.BirthDate?.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)),
        MatchField.Sex => (a.Record.Sex == RecordedSex.Unknown ? null : a.Record.Sex.ToString(), b.Record.Sex == RecordedSex.Unknown ? null : b.Record.Sex.ToString()),
        MatchField.Postcode => (a.Record.Postcode, b.Record.Postcode),
        MatchField.AddressLine => (a.Record.AddressLine, b.Record.AddressLine),
        MatchField.Town => (a.Record.Town, b.Record.Town),
        MatchField.Phone => (a.Record.Phone, b.Record.Phone),
        MatchField.Email => (a.Record.Email, b.Record.Email),
        MatchField.LocalIdentifier => (a.Record.LocalIdentifier, b.Record.LocalIdentifier),
        _ => (null, null),
    };

    private static string? JoinFamily(PersonRecord r) =>
        r.PreviousFamilyName is { Length: > 0 } previous ? $"{r.FamilyName} (previously {previous})" : r.FamilyName;
}
