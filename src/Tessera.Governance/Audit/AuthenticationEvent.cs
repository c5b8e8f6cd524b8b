using System.Security.Claims;

namespace Tessera.Governance.Audit;

/// <summary>How an authentication attempt ended, as DICOM and BALP grade it (AuditEvent.outcome).</summary>
public enum AuthenticationOutcome
{
    /// <summary>0: signed in, token issued or accepted.</summary>
    Success,

    /// <summary>4: refused, and the caller may put it right (a mistyped password, an expired token, too many scopes).</summary>
    MinorFailure,

    /// <summary>8: refused in a way that suggests misuse or a blocked account (a forged or foreign token, a bad client secret, a replayed refresh token, a locked account).</summary>
    SeriousFailure,
}

/// <summary>
/// A sign-in, a token issued or refused, a token revoked, or an access token refused at the FHIR API — recorded
/// by the authorization server as a DICOM "User Authentication" AuditEvent (type 110114, subtype 110122 Login or
/// 110123 Logout) in the hash-chained trail. See docs/governance.md.
/// </summary>
public sealed record AuthenticationEvent
{
    /// <summary>What happened, a code of <c>urn:tessera:governance</c>: sign-in, token, token-revocation, access-token.</summary>
    public required string Kind { get; init; }

    /// <summary>A logout (token revocation) rather than a login.</summary>
    public bool Logout { get; init; }

    public AuthenticationOutcome Outcome { get; init; }

    /// <summary>Why it was refused (an OAuth error and its description, a sign-in problem).</summary>
    public string? Reason { get; init; }

    /// <summary>Who, when known: the claims of the signed-in user or of the token (sub, fhirUser, tessera_role, ...).</summary>
    public ClaimsPrincipal? Principal { get; init; }

    /// <summary>The username typed at the sign-in page (for a failed sign-in, the only name there is).</summary>
    public string? UserName { get; init; }

    public string? ClientId { get; init; }

    /// <summary>The caller's network address.</summary>
    public string? Address { get; init; }

    /// <summary>The patient in the launch context of the token, when any.</summary>
    public string? Patient { get; init; }

    /// <summary>What was asked: the grant type and scopes, or the request refused.</summary>
    public string? Detail { get; init; }
}
