namespace Tessera.Identity.Matching;

/// <summary>The fields the matcher compares; each comparison yields one level of agreement, or none when a value is missing.</summary>
public enum MatchField
{
    NhsNumber,
    GivenName,
    FamilyName,
    BirthDate,
    Sex,
    Postcode,
    AddressLine,
    Town,
    Phone,
    Email,
    LocalIdentifier,
}

internal static class MatchFields
{
    public static readonly MatchField[] All = Enum.GetValues<MatchField>();

    public static int Count => All.Length;

    /// <summary>Level names per field, strongest agreement first; the last level is always disagreement.</summary>
    public static IReadOnlyList<string> LevelNames(MatchField field) => field switch
    {
        MatchField.NhsNumber => ["same valid number", "different valid numbers"],
        MatchField.GivenName or MatchField.FamilyName => NameLevels,
        MatchField.BirthDate => ["exact", "day and month transposed", "one digit differs", "one of day, month, year differs", "year within one", "different"],
        MatchField.Sex => ["same", "different"],
        MatchField.Postcode => ["exact", "same sector", "same district", "one character differs", "different"],
        MatchField.AddressLine => ["exact", "very similar", "similar", "different"],
        MatchField.Town => ["exact", "similar", "different"],
        MatchField.Phone => ["exact", "one digit differs", "different"],
        MatchField.Email => ["exact", "same mailbox name or one character differs", "different"],
        MatchField.LocalIdentifier => ["exact", "one character differs", "different"],
        _ => throw new ArgumentOutOfRangeException(nameof(field)),
    };

    public static readonly string[] NameLevels =
    [
        "exact",
        "Jaro-Winkler at least 0.92",
        "Jaro-Winkler at least 0.88",
        "sounds alike (Double Metaphone)",
        "given and family names swapped",
        "different",
    ];
}

/// <summary>Level indices of the name comparison, shared by given and family names.</summary>
internal static class NameLevel
{
    public const int Exact = 0;
    public const int VeryClose = 1;
    public const int Close = 2;
    public const int SoundsAlike = 3;
    public const int Swapped = 4;
    public const int Different = 5;
}
