using Hl7.Fhir.Model;
using Tessera.Identity.Matching;
using Tessera.Identity.NhsNumbers;

namespace Tessera.Identity.Index;

/// <summary>Whether a source record's NHS number can be used: absent, valid (modulus 11) or invalid.</summary>
public enum NhsNumberStatus
{
    Absent,
    Valid,
    Invalid,
}

/// <summary>Reads what the matcher needs from a source Patient, and recognises the index's own master records.</summary>
public static class PatientDemographics
{
    public const string TagSystem = "urn:tessera:mpi";
    public const string MasterCode = "master";

    /// <summary>Whether the Patient is a master record of the index (tag urn:tessera:mpi|master).</summary>
    public static bool IsMaster(Patient patient) =>
        patient.Meta?.Tag.Any(t => t.System == TagSystem && t.Code == MasterCode) == true;

    /// <summary>
    /// The source a Patient came from, for per-source settings: the system of its first identifier other than the
    /// NHS number (a practice's or hospital's own numbering), else its managing organisation, else meta.source.
    /// </summary>
    public static string SourceOf(Patient patient) =>
        patient.Identifier.FirstOrDefault(i => i.System is { Length: > 0 } s && s != NhsNumber.System)?.System
        ?? patient.ManagingOrganization?.Reference
        ?? patient.Meta?.Source
        ?? "unknown";

    /// <summary>The NHS number as recorded (first identifier with the NHS number system) and whether it passes the check.</summary>
    public static (string? Value, NhsNumberStatus Status) NhsNumberOf(Patient patient)
    {
        var recorded = patient.Identifier.FirstOrDefault(i => i.System == NhsNumber.System && !string.IsNullOrWhiteSpace(i.Value))?.Value;
        if (recorded is null)
        {
            return (null, NhsNumberStatus.Absent);
        }

        return NhsNumber.TryNormalise(recorded, out var normalised) ? (normalised, NhsNumberStatus.Valid) : (recorded.Trim(), NhsNumberStatus.Invalid);
    }

    /// <summary>The matcher's view of a source Patient; the record id is the Patient's id.</summary>
    public static PersonRecord ToPersonRecord(Patient patient, bool useNhsNumber = true)
    {
        ArgumentNullException.ThrowIfNull(patient);
        var name = patient.Name.FirstOrDefault(n => n.Use == HumanName.NameUse.Official && IsCurrent(n.Period))
            ?? patient.Name.FirstOrDefault(n => n.Use is null or HumanName.NameUse.Usual && IsCurrent(n.Period))
            ?? patient.Name.FirstOrDefault(n => n.Use is not (HumanName.NameUse.Old or HumanName.NameUse.Maiden));
        var previous = patient.Name.FirstOrDefault(n => n.Use is HumanName.NameUse.Maiden or HumanName.NameUse.Old || (n != name && !IsCurrent(n.Period)));
        var address = patient.Address.FirstOrDefault(a => a.Use is Address.AddressUse.Home or null && IsCurrent(a.Period))
            ?? patient.Address.FirstOrDefault(a => a.Use != Address.AddressUse.Old && IsCurrent(a.Period));
        var phone = patient.Telecom.FirstOrDefault(t => t.System == ContactPoint.ContactPointSystem.Phone && t.Use == ContactPoint.ContactPointUse.Mobile && IsCurrent(t.Period))
            ?? patient.Telecom.FirstOrDefault(t => t.System == ContactPoint.ContactPointSystem.Phone && IsCurrent(t.Period));
        var email = patient.Telecom.FirstOrDefault(t => t.System == ContactPoint.ContactPointSystem.Email && IsCurrent(t.Period));
        var (nhs, _) = NhsNumberOf(patient);

        return new PersonRecord(SourceOf(patient), patient.Id ?? string.Empty)
        {
            NhsNumber = useNhsNumber ? nhs : null,
            GivenNames = name?.Given is { } given && given.Any() ? string.Join(' ', given) : null,
            FamilyName = name?.Family,
            PreviousFamilyName = previous?.Family is { } old && old != name?.Family ? old : null,
            BirthDate = DateOnly.TryParseExact(patient.BirthDate ?? string.Empty, "yyyy-MM-dd", out var born) ? born : null,
            Sex = patient.Gender switch
            {
                AdministrativeGender.Male => RecordedSex.Male,
                AdministrativeGender.Female => RecordedSex.Female,
                AdministrativeGender.Other => RecordedSex.Other,
                _ => RecordedSex.Unknown,
            },
            Postcode = address?.PostalCode,
            AddressLine = address?.Line is { } lines && lines.Any() ? string.Join(' ', lines) : null,
            Town = address?.City,
            Phone = phone?.Value,
            Email = email?.Value,
        };
    }

    private static bool IsCurrent(Period? period) =>
        period?.End is not { Length: > 0 } end || string.CompareOrdinal(end, DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)) >= 0;
}
