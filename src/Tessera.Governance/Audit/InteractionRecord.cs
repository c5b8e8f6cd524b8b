using System.Security.Claims;
using System.Text.Json.Serialization;
using Tessera.Governance.Policy;

namespace Tessera.Governance.Audit;

/// <summary>Who acted, as the audit records them: the user or client, their role, fhirUser, organisation and application.</summary>
internal sealed record Who(
    [property: JsonPropertyName("sub")] string Subject,
    [property: JsonPropertyName("role")] string? Role,
    [property: JsonPropertyName("user")] string? FhirUser,
    [property: JsonPropertyName("org")] string? Organization,
    [property: JsonPropertyName("practitionerRole")] string? PractitionerRole,
    [property: JsonPropertyName("client")] string? ClientId)
{
    public static Who Of(Caller? caller, ClaimsPrincipal? principal) =>
        new(caller?.Subject ?? principal?.FindFirst("sub")?.Value ?? "unknown", caller?.Role, caller?.FhirUser, caller?.Organization, caller?.PractitionerRole, caller?.ClientId);
}

/// <summary>
/// The compact record of one audited interaction (read, search, write, refusal...): what the hash chain covers and
/// all that the BALP AuditEvent is built from when the trail is read (<see cref="AuditEvents.Restore"/>). The
/// event's id, time and patients are columns of its row beside it. Writing this instead of the AuditEvent's FHIR
/// JSON saves building and serialising a resource of 2–4 kB on every access.
/// </summary>
internal sealed record InteractionRecord
{
    /// <summary>How every compact record's text starts (a FHIR AuditEvent's JSON starts with resourceType).</summary>
    public const string Marker = "{\"v\":";

    /// <summary>The format of the record; it comes first in the text (see <see cref="Marker"/>).</summary>
    [JsonPropertyName("v")]
    [JsonPropertyOrder(-1)]
    public int Format { get; init; } = 1;

    [JsonPropertyName("agent")]
    public required Who Agent { get; init; }

    [JsonPropertyName("address")]
    public string? Address { get; init; }

    /// <summary>Purpose of use (v3 ActReason).</summary>
    [JsonPropertyName("purpose")]
    public string? Purpose { get; init; }

    /// <summary>The FHIR restful interaction code (read, search-type, create...).</summary>
    [JsonPropertyName("subtype")]
    public required string Subtype { get; init; }

    /// <summary>The operation ("$everything"), for operations.</summary>
    [JsonPropertyName("operation")]
    public string? Operation { get; init; }

    /// <summary>C, R, U, D or E.</summary>
    [JsonPropertyName("action")]
    public required string Action { get; init; }

    /// <summary>The HTTP status of the answer.</summary>
    [JsonPropertyName("status")]
    public int Status { get; init; }

    /// <summary>Why it failed or was refused.</summary>
    [JsonPropertyName("reason")]
    public string? Reason { get; init; }

    /// <summary>The resources returned or written, "Type/id/_history/version" (or the one asked for, when refused).</summary>
    [JsonPropertyName("resources")]
    public IReadOnlyList<string> Resources { get; init; } = [];

    /// <summary>The query of a search or history: path and parameters.</summary>
    [JsonPropertyName("query")]
    public string? Query { get; init; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InteractionRecord))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class AuditJson : JsonSerializerContext;
