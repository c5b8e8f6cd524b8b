namespace Tessera.Demo;

/// <summary>What demo region to generate. The same options always give the same region, byte for byte.</summary>
public sealed class RegionOptions
{
    /// <summary>How many people live in the region (each becomes one to three source Patient records).</summary>
    public int Patients { get; init; } = 1000;

    /// <summary>The seed of every random choice; a different seed gives a different region of the same shape.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>"Today" for the region: ages, histories and record dates are computed back from this date.</summary>
    public DateOnly ReferenceDate { get; init; } = new(2025, 1, 1);

    /// <summary>At most this many organisational resources go in one transaction bundle.</summary>
    public int OrganisationBundleSize { get; init; } = 250;
}

/// <summary>The kind of system a source Patient record came from.</summary>
public enum SourceSystem
{
    GeneralPractice,
    Hospital,
    SocialCare,
}

/// <summary>The data-quality faults deliberately put into a source record, as real feeds have them.</summary>
[Flags]
public enum DataQualityFault
{
    None = 0,
    Typo = 1,
    MissingNhsNumber = 2,
    TransposedBirthDate = 4,
    ChangedSurname = 8,
    OldAddress = 16,
}

/// <summary>
/// One line of the truth file: which true person a source Patient record belongs to. The source Patient's id
/// is the id it is created with (request PUT Patient/{id}); the local identifier is given too so the truth
/// can be joined however a loader stored it.
/// </summary>
public sealed record TruthRecord(
    string SourcePatientId,
    string PersonId,
    SourceSystem Source,
    string IdentifierSystem,
    string IdentifierValue,
    DataQualityFault Faults);

/// <summary>One person's transaction bundle (all their source records and history) with its truth records.</summary>
public sealed record PersonBundle(int Index, string PersonId, Hl7.Fhir.Model.Bundle Bundle, IReadOnlyList<TruthRecord> Truth);
