using System.Security.Claims;
using Hl7.Fhir.Model;

namespace Tessera.Identity.Index;

/// <summary>
/// Who made an index decision, as a Provenance agent: the authenticated caller (from the access token's
/// claims: fhirUser, else the user or client id, on behalf of their organisation, with their role), an
/// internal caller that names itself (the HL7 feed names the sending system), or else the index itself.
/// </summary>
internal static class IndexAgents
{
    private const string ParticipantTypes = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";

    /// <summary>Identifier system for callers known only by their token's sub or client_id.</summary>
    public const string CallerSystem = "urn:tessera:caller";

    /// <summary>The index acting on its own (automatic links, rebuilds, internal callers that did not say who they are).</summary>
    public static Provenance.AgentComponent System() => new()
    {
        Type = new CodeableConcept(ParticipantTypes, "assembler", "Assembler", null),
        Who = new ResourceReference { Display = "Tessera master patient index" },
    };

    /// <summary>The authenticated caller as the author of a decision; null for an internal caller.</summary>
    public static Provenance.AgentComponent? FromPrincipal(ClaimsPrincipal? principal)
    {
        if (principal is null)
        {
            return null;
        }

        var sub = principal.FindFirst("sub")?.Value ?? principal.FindFirst(ClaimTypes.NameIdentifier)?.Value;
        var client = principal.FindFirst("client_id")?.Value;
        var fhirUser = principal.FindFirst("fhirUser")?.Value;
        var display = client is not null && client != sub ? $"{sub ?? "(no subject)"} via client {client}" : sub ?? client ?? "(unnamed caller)";
        var agent = new Provenance.AgentComponent
        {
            Type = new CodeableConcept(ParticipantTypes, "author", "Author", null),
            Who = fhirUser is not null
                ? new ResourceReference(fhirUser) { Display = display }
                : new ResourceReference { Identifier = new Identifier(CallerSystem, sub ?? client ?? "unknown"), Display = display },
        };
        if (principal.FindFirst("tessera_org")?.Value is { } org)
        {
            agent.OnBehalfOf = new ResourceReference(org);
        }

        if (principal.FindFirst("tessera_role")?.Value is { } role)
        {
            agent.Role.Add(new CodeableConcept { Text = role });
        }

        return agent;
    }

    /// <summary>An author named by a reference (a review Task's owner, the system an internal caller names).</summary>
    public static Provenance.AgentComponent Author(ResourceReference who) => new()
    {
        Type = new CodeableConcept(ParticipantTypes, "author", "Author", null),
        Who = who,
    };
}
