namespace Tessera.Identity.Matching;

/// <summary>
/// Blocking rules: only records sharing at least one key are compared. Several independent rules keep recall
/// high when any single field is wrong or missing, while each block stays small, so cost grows near-linearly.
/// </summary>
internal static class Blocking
{
    /// <summary>The rules, named as reported; each returns no key when its fields are missing.</summary>
    /// <summary>The rules, named as documented; each yields no key when its fields are missing.</summary>
    public static readonly string[] RuleNames =
    [
        "NHS number",
        "birth date",
        "family name sound + birth year",
        "postcode + given initial",
        "phone number: last six digits, or the rest with the given initial",
        "given and family name sounds, in either order",
        "family name sound + postcode district",
        "street name + first letter of town",
        "town + family initial",
        "local identifier",
    ];

    public static void Keys(PreparedRecord r, List<ulong> keys)
    {
        keys.Clear();
        if (r.Nhs is not null)
        {
            keys.Add(Hash(0, r.Nhs));
        }

        var familyInitial = r.Family is { Length: > 0 } f ? f[0] : '\0';
        var givenInitial = r.GivenFirst is { Length: > 0 } g ? g[0] : '\0';

        // A birth date alone is a small block (a day's births) even in a large population.
        if (r.BirthDigits is not null)
        {
            keys.Add(Hash(1, r.BirthDigits));
        }

        if (r.FamilyKeys.Primary.Length > 0 && r.BirthDate is { } dob)
        {
            keys.Add(Hash(2, r.FamilyKeys.Primary, (char)dob.Year));
        }

        if (r.Postcode is not null && givenInitial != '\0')
        {
            keys.Add(Hash(3, r.Postcode, givenInitial));
        }

        if (r.Phone is { Length: >= 8 } phone)
        {
            // Two halves, so a number mistyped in one digit still shares one of them. The leading half is
            // shared by whole number ranges, so it is narrowed by the given initial to keep its blocks small.
            keys.Add(Hash(4, phone[^6..], 'L'));
            if (givenInitial != '\0')
            {
                keys.Add(Hash(4, phone[..^6], givenInitial));
            }
        }

        if (r.FamilyKeys.Primary.Length > 0 && r.GivenKeys.Primary.Length > 0)
        {
            // Ordered so that a record with given and family names swapped gets the same key.
            var (first, second) = string.CompareOrdinal(r.GivenKeys.Primary, r.FamilyKeys.Primary) <= 0
                ? (r.GivenKeys.Primary, r.FamilyKeys.Primary)
                : (r.FamilyKeys.Primary, r.GivenKeys.Primary);
            keys.Add(Hash(5, first + "|" + second));
        }

        if (r.FamilyKeys.Primary.Length > 0 && r.PostcodeDistrict is not null)
        {
            keys.Add(Hash(6, r.FamilyKeys.Primary + "|" + r.PostcodeDistrict));
        }

        if (r.Street is not null && r.Town is { Length: > 0 } town)
        {
            keys.Add(Hash(7, r.Street, town[0]));
        }

        if (r.Town is not null && familyInitial != '\0')
        {
            keys.Add(Hash(8, r.Town, familyInitial));
        }

        if (r.LocalId is not null)
        {
            keys.Add(Hash(9, r.LocalId));
        }
    }

    private const int RuleShift = 59;

    /// <summary>
    /// The largest block a key may have and still be searched. Keys built on a town or street name are broad
    /// (a city holds hundreds of thousands of people), so they are only useful in small places and get a
    /// tighter cap than the specific keys.
    /// </summary>
    public static int MaxBlockSize(ulong key, int configured)
    {
        var rule = (int)(key >> RuleShift);
        return rule is 7 or 8 ? Math.Max(2, configured / 8) : configured;
    }

    /// <summary>
    /// 64-bit FNV-1a over the key text, with the rule number in the top bits so a block's rule is known.
    /// Collisions only add comparisons, never lose one.
    /// </summary>
    private static ulong Hash(int rule, string text, char extra = '\0')
    {
        const ulong offset = 14695981039346656037UL;
        const ulong prime = 1099511628211UL;
        var hash = offset;
        foreach (var ch in text)
        {
            hash = (hash ^ ch) * prime;
        }

        hash = (hash ^ extra) * prime;
        return (hash & ((1UL << RuleShift) - 1)) | ((ulong)rule << RuleShift);
    }
}
