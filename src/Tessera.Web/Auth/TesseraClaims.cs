namespace Tessera.Web.Auth;

/// <summary>The claims Tessera's access tokens carry (docs/security.md; read by the access policy).</summary>
internal static class TesseraClaims
{
    public const string Subject = "sub";
    public const string ClientId = "client_id";
    public const string Scope = "scope";
    public const string Name = "name";
    public const string FhirUser = "fhirUser";
    public const string Role = "tessera_role";
    public const string Organization = "tessera_org";
    public const string PractitionerRole = "tessera_practitioner_role";
    public const string Patient = "patient";

    /// <summary>The roles a person or system acts in.</summary>
    public static readonly IReadOnlyList<string> Roles =
        ["gp", "nurse", "paramedic", "clinician-111", "social-worker", "admin-staff", "ig-lead", "citizen", "carer", "system"];

    public static bool IsPractitionerRole(string role) => role is not ("citizen" or "carer" or "system");
}
