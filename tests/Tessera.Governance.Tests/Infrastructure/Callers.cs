using System.Security.Claims;

namespace Tessera.Governance.Tests.Infrastructure;

/// <summary>A caller of the matrix: the token claims the auth part puts on FhirRequest.Principal.</summary>
public sealed record TestCaller(string Name, string Role, string Subject, string? FhirUser, string? Org, string? PractitionerRole, string Scope)
{
    public ClaimsPrincipal Principal()
    {
        var claims = new List<Claim> { new("sub", Subject), new("tessera_role", Role), new("scope", Scope), new("client_id", "test-client") };
        if (FhirUser is not null)
        {
            claims.Add(new Claim("fhirUser", FhirUser));
        }

        if (Org is not null)
        {
            claims.Add(new Claim("tessera_org", Org));
        }

        if (PractitionerRole is not null)
        {
            claims.Add(new Claim("tessera_practitioner_role", PractitionerRole));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, "test"));
    }

    public override string ToString() => Name;
}

/// <summary>The callers of the region: one per role, practitioners at organisation A.</summary>
public static class Callers
{
    public const string OrgA = "Organization/org-a";
    public const string OrgB = "Organization/org-b";

    public static readonly TestCaller Gp = new("gp", "gp", "gp-user", "Practitioner/p-gp", OrgA, "PractitionerRole/pr-gp", "user/*.cruds openid fhirUser");
    public static readonly TestCaller Nurse = new("nurse", "nurse", "nurse-user", "Practitioner/p-nurse", OrgA, "PractitionerRole/pr-nurse", "user/*.cruds");
    public static readonly TestCaller SocialWorker = new("social-worker", "social-worker", "sw-user", "Practitioner/p-sw", OrgA, "PractitionerRole/pr-sw", "user/*.cruds");
    public static readonly TestCaller Admin = new("admin-staff", "admin-staff", "admin-user", "Practitioner/p-admin", OrgA, "PractitionerRole/pr-admin", "user/*.cruds");
    public static readonly TestCaller IgLead = new("ig-lead", "ig-lead", "ig-user", "Practitioner/p-ig", OrgA, "PractitionerRole/pr-ig", "user/*.cruds");
    public static readonly TestCaller Citizen = new("citizen", "citizen", "citizen-user", "Patient/p-citizen", null, null, "patient/*.rs openid fhirUser");
    public static readonly TestCaller Carer = new("carer", "carer", "carer-user", "RelatedPerson/rp-allowed", null, null, "user/*.rs");
    public static readonly TestCaller UnallowedCarer = new("carer-unallowed", "carer", "carer2-user", "RelatedPerson/rp-unallowed", null, null, "user/*.rs");
    public static readonly TestCaller System = new("system", "system", "sys-client", null, null, null, "system/*.rs");
    public static readonly TestCaller SystemPatientsOnly = new("system-patients", "system", "sys2-client", null, null, null, "system/Patient.rs");

    public static readonly TestCaller[] All = [Gp, Nurse, SocialWorker, Admin, IgLead, Citizen, Carer, UnallowedCarer, System, SystemPatientsOnly];
}
