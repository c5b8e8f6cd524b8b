using System.Text;
using Tessera.Identity.NhsNumbers;

namespace Tessera.Identity.Matching;

/// <summary>
/// A record normalised once for comparison, so the per-pair work is string comparison only: names lower-cased
/// to letters, phonetic keys computed, postcode split into district and sector, phone reduced to digits.
/// </summary>
internal sealed class PreparedRecord
{
    public PreparedRecord(PersonRecord record, int position)
    {
        Record = record;
        Position = position;

        if (NhsNumber.TryNormalise(record.NhsNumber, out var nhs))
        {
            Nhs = nhs;
        }
        else
        {
            // An invalid number may be a typo of anyone's number: it is kept for the explanation only.
            InvalidNhs = !string.IsNullOrWhiteSpace(record.NhsNumber);
        }

        var givenTokens = NameTokens(record.GivenNames);
        GivenFirst = givenTokens.Length > 0 ? givenTokens[0] : null;
        GivenFull = givenTokens.Length > 0 ? string.Concat(givenTokens) : null;
        Family = Letters(record.FamilyName);
        PreviousFamily = Letters(record.PreviousFamilyName);
        GivenKeys = DoubleMetaphone.Encode(GivenFirst);
        FamilyKeys = DoubleMetaphone.Encode(Family);
        PreviousFamilyKeys = DoubleMetaphone.Encode(PreviousFamily);

        BirthDate = record.BirthDate;
        if (BirthDate is { } dob)
        {
            BirthDigits = dob.ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
        }

        Sex = record.Sex is RecordedSex.Male or RecordedSex.Female ? record.Sex : RecordedSex.Unknown;

        Postcode = Postcodes.Normalise(record.Postcode);
        if (Postcode is not null)
        {
            (PostcodeDistrict, PostcodeSector) = Postcodes.Split(Postcode);
        }

        Address = AddressText(record.AddressLine, out var street, out var sorted);
        AddressTokens = Address?.Split(' ') ?? [];
        Street = street;
        AddressSorted = sorted;
        Town = AddressText(record.Town, out _, out _);
        Phone = PhoneDigits(record.Phone);
        Email = string.IsNullOrWhiteSpace(record.Email) ? null : record.Email.Trim().ToLowerInvariant();
        var at = Email?.IndexOf('@') ?? -1;
        EmailLocal = at > 0 ? Email![..at] : null;
        LocalId = Postcodes.Normalise(record.LocalIdentifier);
    }

    public string? LocalId { get; }

    public string[] AddressTokens { get; } = [];

    public PersonRecord Record { get; }

    public int Position { get; }

    public string? Nhs { get; }

    public bool InvalidNhs { get; }

    public string? GivenFirst { get; }

    public string? GivenFull { get; }

    public string? Family { get; }

    public string? PreviousFamily { get; }

    public DoubleMetaphone.Keys GivenKeys { get; }

    public DoubleMetaphone.Keys FamilyKeys { get; }

    public DoubleMetaphone.Keys PreviousFamilyKeys { get; }

    public DateOnly? BirthDate { get; }

    public string? BirthDigits { get; }

    public RecordedSex Sex { get; }

    public string? Postcode { get; }

    public string? PostcodeDistrict { get; }

    public string? PostcodeSector { get; }

    public string? Address { get; }

    public string? Street { get; }

    public string? AddressSorted { get; }

    public string? Town { get; }

    public string? Phone { get; }

    public string? Email { get; }

    public string? EmailLocal { get; }

    internal static string[] NameTokens(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return [];
        }

        var tokens = new List<string>(2);
        var sb = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            if (char.IsLetter(ch))
            {
                sb.Append(char.ToLowerInvariant(RemoveAccent(ch)));
            }
            else if (ch is ' ' or '-' or ',' or '.')
            {
                if (sb.Length > 0)
                {
                    tokens.Add(sb.ToString());
                    sb.Clear();
                }
            }
        }

        if (sb.Length > 0)
        {
            tokens.Add(sb.ToString());
        }

        return [.. tokens];
    }

    /// <summary>Letters only, so "O'Brien", "O Brien" and "obrien" agree exactly.</summary>
    internal static string? Letters(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var sb = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            if (char.IsLetter(ch))
            {
                sb.Append(char.ToLowerInvariant(RemoveAccent(ch)));
            }
        }

        return sb.Length == 0 ? null : sb.ToString();
    }

    private static char RemoveAccent(char ch) => ch switch
    {
        'á' or 'à' or 'â' or 'ä' or 'ã' or 'å' => 'a',
        'Á' or 'À' or 'Â' or 'Ä' or 'Ã' or 'Å' => 'A',
        'é' or 'è' or 'ê' or 'ë' => 'e',
        'É' or 'È' or 'Ê' or 'Ë' => 'E',
        'í' or 'ì' or 'î' or 'ï' => 'i',
        'Í' or 'Ì' or 'Î' or 'Ï' => 'I',
        'ó' or 'ò' or 'ô' or 'ö' or 'õ' or 'ø' => 'o',
        'Ó' or 'Ò' or 'Ô' or 'Ö' or 'Õ' or 'Ø' => 'O',
        'ú' or 'ù' or 'û' or 'ü' => 'u',
        'Ú' or 'Ù' or 'Û' or 'Ü' => 'U',
        'ç' => 'c',
        'Ç' => 'C',
        'ñ' => 'n',
        'Ñ' => 'N',
        _ => ch,
    };

    /// <summary>Lower-case words separated by single spaces; also the street without house numbers and the words sorted, for reordered addresses.</summary>
    private static string? AddressText(string? text, out string? street, out string? sorted)
    {
        street = null;
        sorted = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var words = new List<string>();
        var sb = new StringBuilder();
        foreach (var ch in text)
        {
            if (char.IsLetterOrDigit(ch))
            {
                sb.Append(char.ToLowerInvariant(ch));
            }
            else if (sb.Length > 0)
            {
                words.Add(sb.ToString());
                sb.Clear();
            }
        }

        if (sb.Length > 0)
        {
            words.Add(sb.ToString());
        }

        if (words.Count == 0)
        {
            return null;
        }

        var streetWords = words.Where(w => !w.Any(char.IsDigit)).ToList();
        street = streetWords.Count > 0 ? string.Join(' ', streetWords) : null;
        sorted = string.Join(' ', words.Order(StringComparer.Ordinal));
        return string.Join(' ', words);
    }

    private static string? PhoneDigits(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var sb = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            if (ch is >= '0' and <= '9')
            {
                sb.Append(ch);
            }
        }

        var digits = sb.ToString();

        // +44 7700 900123 and 07700 900123 are the same number.
        if (digits.StartsWith("44", StringComparison.Ordinal) && digits.Length == 12)
        {
            digits = "0" + digits[2..];
        }

        return digits.Length >= 6 ? digits : null;
    }
}

internal static class Postcodes
{
    public static string? Normalise(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var sb = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            if (char.IsLetterOrDigit(ch))
            {
                sb.Append(char.ToUpperInvariant(ch));
            }
        }

        return sb.Length == 0 ? null : sb.ToString();
    }

    /// <summary>
    /// The district (outward code, "AB1") and sector ("AB1 2") of a UK postcode. A code not in UK form
    /// (a foreign or partial one) gets its leading characters as district and no sector.
    /// </summary>
    public static (string? District, string? Sector) Split(string normalised)
    {
        var n = normalised.Length;
        var ukShape = n is >= 5 and <= 7
            && char.IsDigit(normalised[n - 3]) && char.IsLetter(normalised[n - 2]) && char.IsLetter(normalised[n - 1])
            && char.IsLetter(normalised[0]);
        if (ukShape)
        {
            var outward = normalised[..(n - 3)];
            return (outward, outward + " " + normalised[n - 3]);
        }

        return (n > 2 ? normalised[..(n - 1)] : null, null);
    }
}
