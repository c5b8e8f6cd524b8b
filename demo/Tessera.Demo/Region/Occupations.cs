namespace Tessera.Demo.Region;

/// <summary>
/// What a member of staff does: a SNOMED CT occupation (PractitionerRole.code) and, where one applies, the
/// Tessera access role (<c>urn:tessera:role</c>, the values of the <c>tessera_role</c> token claim) that an
/// access policy decides on. Staff whose work has no Tessera role (hospital doctors, pharmacists) carry only
/// the SNOMED CT occupation.
/// </summary>
internal sealed record Occupation(string? SnomedCode, string Display, string? Role, string? Prefix = null);

internal static class Occupations
{
    public const string RoleSystem = "urn:tessera:role";

    public static readonly Occupation Gp = new("62247001", "General practitioner", "gp", "Dr");
    public static readonly Occupation Nurse = new("224535009", "Registered nurse", "nurse");
    public static readonly Occupation Paramedic = new("397897005", "Paramedic", "paramedic");
    public static readonly Occupation NurseAdviser111 = new("224535009", "Registered nurse", "clinician-111");
    public static readonly Occupation Gp111 = new("62247001", "General practitioner", "clinician-111", "Dr");
    public static readonly Occupation SocialWorker = new("106328005", "Social worker", "social-worker");
    public static readonly Occupation Administrator = new("224608005", "Administrative healthcare staff", "admin-staff");
    public static readonly Occupation InformationGovernanceLead = new("224608005", "Administrative healthcare staff", "ig-lead");
    public static readonly Occupation Doctor = new("158965000", "Medical practitioner", null, "Dr");
    public static readonly Occupation EmergencyDoctor = new("309294001", "Accident and Emergency doctor", null, "Dr");
    public static readonly Occupation Pharmacist = new("46255001", "Pharmacist", null);

    /// <summary>Voluntary sector staff: no SNOMED CT occupation fits, so the role is named in text.</summary>
    public static readonly Occupation VolunteerCoordinator = new(null, "Volunteer coordinator", "admin-staff");

    /// <summary>How each Tessera role is displayed.</summary>
    public static string RoleDisplay(string role) => role switch
    {
        "gp" => "General practitioner",
        "nurse" => "Nurse",
        "paramedic" => "Paramedic",
        "clinician-111" => "NHS 111 clinician",
        "social-worker" => "Social worker",
        "admin-staff" => "Administrative staff",
        "ig-lead" => "Information governance lead",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "Not a Tessera staff role."),
    };
}
