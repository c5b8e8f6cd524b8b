namespace Tessera.Web.Auth;

/// <summary>Sign-in and token settings, bound from the "Tessera:Auth" configuration section.</summary>
public sealed class AuthOptions
{
    public const string Section = "Tessera:Auth";

    /// <summary>The audience (aud) of access tokens, which /fhir requires.</summary>
    public string Audience { get; set; } = "tessera-fhir";

    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(30);

    public TimeSpan RefreshTokenLifetime { get; set; } = TimeSpan.FromHours(8);

    /// <summary>How long a sign-in session (cookie) lasts without use.</summary>
    public TimeSpan SignInSessionLifetime { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>How long a launch id from POST /auth/launch may be used.</summary>
    public TimeSpan LaunchLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Refuse OAuth requests over plain HTTP. Off by default so that a local start works; turn it on wherever
    /// Tessera is reached over a network (with TLS at Tessera or at a proxy that forwards the scheme).
    /// </summary>
    public bool RequireHttps { get; set; }

    /// <summary>Failed sign-ins in a row before an account is locked for <see cref="LockoutPeriod"/>.</summary>
    public int MaxFailedSignIns { get; set; } = 5;

    public TimeSpan LockoutPeriod { get; set; } = TimeSpan.FromMinutes(15);
}
