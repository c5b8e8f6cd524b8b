using System.Security.Claims;

namespace Tessera.Governance.Policy;

/// <summary>The roles of tessera_role (docs/governance.md says what each may see).</summary>
internal static class Roles
{
    public const string Gp = "gp";
    public const string Nurse = "nurse";
    public const string Paramedic = "paramedic";
    public const string Clinician111 = "clinician-111";
    public const string SocialWorker = "social-worker";
    public const string AdminStaff = "admin-staff";
    public const string IgLead = "ig-lead";
    public const string Citizen = "citizen";
    public const string Carer = "carer";
    public const string System = "system";

    public static readonly string[] All = [Gp, Nurse, Paramedic, Clinician111, SocialWorker, AdminStaff, IgLead, Citizen, Carer, System];

    /// <summary>Roles that see records through care relationships (and may break the glass).</summary>
    public static bool IsPractitioner(string role) => role is Gp or Nurse or Paramedic or Clinician111 or SocialWorker or AdminStaff;

    public static bool IsClinical(string role) => role is Gp or Nurse or Paramedic or Clinician111 or SocialWorker;
}

/// <summary>The caller as the access token describes them (claims agreed in the cross-part conventions).</summary>
internal sealed record Caller
{
    public required string Role { get; init; }

    public required string Subject { get; init; }

    public string? ClientId { get; init; }

    /// <summary>fhirUser: Practitioner/x, Patient/x or RelatedPerson/x.</summary>
    public string? FhirUser { get; init; }

    public string? Organization { get; init; }

    public string? PractitionerRole { get; init; }

    /// <summary>The launch context patient, when any.</summary>
    public string? Patient { get; init; }

    public required ScopeSet Scopes { get; init; }

    public static Caller? From(ClaimsPrincipal principal)
    {
        string? Claim(string type) => principal.FindFirst(type)?.Value is { Length: > 0 } v ? v : null;
        var role = Claim("tessera_role");
        var subject = Claim("sub") ?? Claim(ClaimTypes.NameIdentifier) ?? Claim("client_id");
        if (role is null || subject is null || Array.IndexOf(Roles.All, role) < 0)
        {
            return null;
        }

        var scopes = principal.FindAll("scope").Select(c => c.Value).ToList();
        return new Caller
        {
            Role = role,
            Subject = subject,
            ClientId = Claim("client_id"),
            FhirUser = Claim("fhirUser"),
            Organization = Claim("tessera_org"),
            PractitionerRole = Claim("tessera_practitioner_role"),
            Patient = Claim("patient"),
            Scopes = scopes.Count == 0 ? ScopeSet.Unrestricted : ScopeSet.Parse(string.Join(' ', scopes)),
        };
    }

    /// <summary>The id of fhirUser when it is of <paramref name="type"/>.</summary>
    public string? UserId(string type) =>
        FhirUser is { } u && u.StartsWith(type + "/", StringComparison.Ordinal) ? u[(type.Length + 1)..] : null;

    /// <summary>The parties a relationship may name to include this caller: themselves, their role and organisation.</summary>
    public IEnumerable<string> Parties()
    {
        yield return "user:" + Subject;
        foreach (var p in new[] { FhirUser, Organization, PractitionerRole })
        {
            if (p is not null)
            {
                yield return p;
            }
        }
    }
}
