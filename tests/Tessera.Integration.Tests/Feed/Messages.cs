using System.Globalization;

namespace Tessera.Integration.Tests.Feed;

/// <summary>Messages from the test source (application PAS at facility RXH; fictitious people).</summary>
internal static class Messages
{
    public const string Application = "PAS";
    public const string Facility = "RXH";
    public const string IdentifierBase = "https://fhir.rxh.example.nhs.uk/Id";
    public const string PatientSystem = IdentifierBase + "/local-patient-identifier";
    public const string EncounterSystem = IdentifierBase + "/encounter";

    public static Pipeline.Hl7SourceOptions Source => new()
    {
        Application = Application,
        Facility = Facility,
        Name = "Royal Example Hospital PAS",
        OdsCode = "RXH",
        OrganizationName = "Royal Example Hospital NHS Trust",
        IdentifierSystem = IdentifierBase,
    };

    public static string NewId(string prefix) => prefix + Guid.NewGuid().ToString("N")[..12].ToUpperInvariant();

    public static string Header(string type, string controlId, string version = "2.5.1", string application = Application, string facility = Facility) =>
        $"MSH|^~\\&|{application}|{facility}|TESSERA|REGION|20260301101500||{type}|{controlId}|P|{version}\r";

    /// <summary>An ADT message with PID (NHS number and local number) and, when a visit is given, PV1.</summary>
    public static string Adt(string trigger, string controlId, string mrn, string? visit = null, string patientClass = "I", string nhs = "9434765919", string? extra = null) =>
        Header($"ADT^{trigger}^ADT_A01", controlId)
        + $"EVN|{trigger}|20260301101500\r"
        + $"PID|1||{mrn}^^^RXH^MR~{nhs}^^^NHS^NH||SMITH^ALICE^MAY^^MRS||19750412|F|||12 HIGH STREET^FLAT 2^LEEDS^WEST YORKSHIRE^LS1 4AB^GBR^H||0113 496 0000^PRN^PH~^NET^Internet^alice@example.org\r"
        + (visit is null ? string.Empty : $"PV1|1|{patientClass}|WARD 7^BAY 2^BED 4^RXH||||C1234^JONES^PETER^^^DR|||MED||||19|||C5678^KHAN^SARA^^^DR||{visit}|||||||||||||||||||||||||20260301100000{(trigger == "A03" ? "|20260305160000" : string.Empty)}\r")
        + (extra ?? string.Empty);

    public static string Count(int n) => n.ToString(CultureInfo.InvariantCulture);
}
