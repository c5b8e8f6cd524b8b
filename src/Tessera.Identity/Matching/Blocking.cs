namespace Tessera.Identity.Matching;

/// <summary>
/// Blocking rules: only records sharing at least one key are compared. Several independent rules keep recall
/// high when any single field is wrong or missing, while each block stays small, so cost grows near-linearly.
/// </summary>
internal static class Blocking
{
    /// <summary>
    /// The rules, named as documented; each yields no key when its fields are missing. Every key narrows a broad
    /// field (a name sound, a district) by another, so blocks stay small as the population grows: a key shared by
    /// a fixed share of everyone (a common surname, a phone operator's prefix) makes cost grow with the square of
    /// the index, and once its blocks pass the size cap they are skipped and find nothing at all.
    /// </summary>
    public static readonly string[] RuleNames =
    [
        "NHS number",
        "birth date, day and month in either order, + given initial; the same + family initial",
        "family name sound + birth year + given initial",
        "postcode + given initial",
        "phone number: last six digits; digits at even places, and at odd places, with the given initial",
        "given and family name sounds, in either order, + birth year",
        "family name sound + postcode sector (district when not a UK postcode) + given initial",
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

        // A day's births, narrowed by either initial (a typo seldom hits a first letter, and hardly ever both).
        // Day and month are ordered, so a record with them transposed shares the block.
        if (r.BirthDate is { } born)
        {
            var (low, high) = born.Day <= born.Month ? (born.Day, born.Month) : (born.Month, born.Day);
            var date = (born.Year * 10_000) + (low * 100) + high;
            if (givenInitial != '\0')
            {
                keys.Add(Hash(1, date, 'G', givenInitial));
            }

            if (familyInitial != '\0')
            {
                keys.Add(Hash(1, date, 'F', familyInitial));
            }
        }

        if (r.FamilyKeys.Primary.Length > 0 && r.BirthDate is { } dob && givenInitial != '\0')
        {
            keys.Add(Hash(2, r.FamilyKeys.Primary, (char)dob.Year, default, givenInitial));
        }

        if (r.Postcode is not null && givenInitial != '\0')
        {
            keys.Add(Hash(3, r.Postcode, givenInitial));
        }

        if (r.Phone is { Length: >= 8 } phone)
        {
            // The leading digits are an operator's or an area's code, shared by whole populations: the last six
            // digits make the block. A number mistyped there in one digit still agrees on every other digit, so
            // the digits at even places and those at odd places (with the given initial) give two more keys.
            keys.Add(Hash(4, phone.AsSpan(phone.Length - 6)));
            if (givenInitial != '\0')
            {
                Span<char> even = stackalloc char[(phone.Length + 1) / 2];
                Span<char> odd = stackalloc char[phone.Length / 2];
                for (var i = 0; i < phone.Length; i++)
                {
                    (i % 2 == 0 ? even : odd)[i / 2] = phone[i];
                }

                keys.Add(Hash(4, even, 'E', default, givenInitial));
                keys.Add(Hash(4, odd, 'O', default, givenInitial));
            }
        }

        if (r.FamilyKeys.Primary.Length > 0 && r.GivenKeys.Primary.Length > 0)
        {
            // Ordered so that a record with given and family names swapped gets the same key.
            var (first, second) = string.CompareOrdinal(r.GivenKeys.Primary, r.FamilyKeys.Primary) <= 0
                ? (r.GivenKeys.Primary, r.FamilyKeys.Primary)
                : (r.FamilyKeys.Primary, r.GivenKeys.Primary);
            keys.Add(Hash(5, first, '|', second, r.BirthDate is { } year ? (char)year.Year : '\0'));
        }

        if (r.FamilyKeys.Primary.Length > 0 && (r.PostcodeSector ?? r.PostcodeDistrict) is { } area && givenInitial != '\0')
        {
            keys.Add(Hash(6, r.FamilyKeys.Primary, '|', area, givenInitial));
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
    /// tighter cap than the specific keys; so does the phone number, because a number that many records
    /// share is an institution's (a care home, a surgery's switchboard), not a person's.
    /// </summary>
    public static int MaxBlockSize(ulong key, int configured)
    {
        var rule = (int)(key >> RuleShift);
        return rule is 4 or 7 or 8 ? Math.Max(2, configured / 8) : configured;
    }

    /// <summary>
    /// 64-bit FNV-1a over the key's parts, with the rule number in the top bits so a block's rule is known.
    /// Collisions only add comparisons, never lose one.
    /// </summary>
    private static ulong Hash(int rule, ReadOnlySpan<char> text, char extra = '\0', ReadOnlySpan<char> more = default, char last = '\0')
    {
        var hash = Mix(Offset, text);
        hash = (hash ^ extra) * Prime;
        hash = Mix(hash, more);
        hash = (hash ^ last) * Prime;
        return (hash & ((1UL << RuleShift) - 1)) | ((ulong)rule << RuleShift);
    }

    private static ulong Hash(int rule, int a, int b, int c)
    {
        var hash = (Offset ^ (ulong)a) * Prime;
        hash = (hash ^ (ulong)b) * Prime;
        hash = (hash ^ (ulong)c) * Prime;
        return (hash & ((1UL << RuleShift) - 1)) | ((ulong)rule << RuleShift);
    }

    private const ulong Offset = 14695981039346656037UL;
    private const ulong Prime = 1099511628211UL;

    private static ulong Mix(ulong hash, ReadOnlySpan<char> text)
    {
        foreach (var ch in text)
        {
            hash = (hash ^ ch) * Prime;
        }

        return hash;
    }
}
