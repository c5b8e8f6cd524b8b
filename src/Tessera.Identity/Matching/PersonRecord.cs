namespace Tessera.Identity.Matching;

/// <summary>Administrative sex as recorded by a source; <see cref="Unknown"/> carries no evidence.</summary>
public enum RecordedSex
{
    Unknown = 0,
    Male,
    Female,
    Other,
}

/// <summary>
/// One source system's demographic record of a person, as the matcher sees it. Values are taken as recorded:
/// the matcher normalises case, spacing and punctuation itself, and treats an invalid NHS number as absent.
/// </summary>
/// <param name="SourceId">The system the record came from (a GP practice system, a hospital PAS).</param>
/// <param name="RecordId">The record's identifier within its source.</param>
public sealed record PersonRecord(string SourceId, string RecordId)
{
    public string? NhsNumber { get; init; }

    /// <summary>Given names separated by spaces; the first is the one most often recorded by every source.</summary>
    public string? GivenNames { get; init; }

    public string? FamilyName { get; init; }

    /// <summary>A former family name (before marriage, say), compared as well as the current one.</summary>
    public string? PreviousFamilyName { get; init; }

    public DateOnly? BirthDate { get; init; }

    public RecordedSex Sex { get; init; }

    public string? Postcode { get; init; }

    /// <summary>House number and street, with any building name.</summary>
    public string? AddressLine { get; init; }

    /// <summary>The post town or locality.</summary>
    public string? Town { get; init; }

    public string? Phone { get; init; }

    public string? Email { get; init; }

    /// <summary>
    /// Another identifier shared across the sources being matched (a regional social care number, a shared
    /// hospital number). Weighed like any field; unlike the NHS number it has no hard rules and no check digit.
    /// </summary>
    public string? LocalIdentifier { get; init; }
}
