using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Tessera.Web.Auth;

/// <summary>
/// The token endpoint (OpenIddict validates the client, the code and PKCE, the refresh token): client credentials
/// for systems, and the code and refresh grants for people, whose account is checked again at every refresh.
/// </summary>
internal static class TokenEndpoint
{
    public static void Map(WebApplication app) => app.MapPost("/auth/token", ExchangeAsync);

    private static async Task<IResult> ExchangeAsync(HttpContext context, IOpenIddictApplicationManager applications, ClientRegistry clients, UserAccounts users, IOptions<AuthOptions> options, ILoggerFactory loggers)
    {
        var request = context.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("The OpenID Connect request cannot be retrieved.");
        var log = loggers.CreateLogger("Tessera.Auth");
        if (request.IsClientCredentialsGrantType())
        {
            var application = await applications.FindByClientIdAsync(request.ClientId!, context.RequestAborted) ?? throw new InvalidOperationException("The client was validated but cannot be found.");
            var allowed = await clients.AllowedScopesAsync(application, context.RequestAborted);
            var scopes = request.GetScopes();
            if (scopes.IsDefaultOrEmpty)
            {
                scopes = [.. allowed];
            }

            if (ScopeRules.Refusal(scopes, allowed, forSystem: true) is { } problem)
            {
                log.LogWarning("Token refused to client {ClientId}: {Reason}", request.ClientId, problem);
                return Refuse(Errors.InvalidScope, problem);
            }

            var identity = new ClaimsIdentity(TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            identity.SetClaim(TesseraClaims.Subject, request.ClientId);
            identity.SetClaim(TesseraClaims.ClientId, request.ClientId);
            identity.SetClaim(TesseraClaims.Name, await applications.GetDisplayNameAsync(application, context.RequestAborted) ?? request.ClientId);
            identity.SetClaim(TesseraClaims.Role, "system");
            identity.SetScopes(scopes);
            identity.SetResources(options.Value.Audience);
            identity.SetDestinations(Destinations);
            return Issue(context, new ClaimsPrincipal(identity), properties: null);
        }

        if (request.IsAuthorizationCodeGrantType() || request.IsRefreshTokenGrantType())
        {
            var result = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
            if (result.Principal?.FindFirst(TesseraClaims.Subject)?.Value is not { } userId || await users.FindAsync(userId, context.RequestAborted) is not { Disabled: false } user)
            {
                return Refuse(Errors.InvalidGrant, "The account this grant was issued to no longer exists or is disabled.");
            }

            // The account's role and ties are read again, so a change takes effect at the next refresh.
            var identity = new ClaimsIdentity(AuthorizationEndpoints.UserClaims(user), TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
            var patient = result.Principal.FindFirst(TesseraClaims.Patient)?.Value;
            if (patient is not null)
            {
                identity.AddClaim(new Claim(TesseraClaims.Patient, patient));
            }

            identity.SetClaim(TesseraClaims.ClientId, request.ClientId);
            identity.SetScopes(result.Principal.GetScopes());
            identity.SetResources(options.Value.Audience);
            identity.SetDestinations(Destinations);
            var properties = new AuthenticationProperties();
            if (patient is not null)
            {
                // SMART: the token response names the patient in context.
                properties.Parameters[TesseraClaims.Patient] = patient;
                properties.Parameters["need_patient_banner"] = user.Role is not ("citizen" or "carer");
            }

            return Issue(context, new ClaimsPrincipal(identity), properties);
        }

        return Refuse(Errors.UnsupportedGrantType, "This server supports the authorization_code, refresh_token and client_credentials grants.");
    }

    /// <summary>Issues the tokens; the audit of the response names who they were issued to.</summary>
    private static IResult Issue(HttpContext context, ClaimsPrincipal principal, AuthenticationProperties? properties)
    {
        AuthAudit.Issuing(context, principal);
        return Results.SignIn(principal, properties, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>An OAuth error for the client (a redirect from authorize, a JSON error from token).</summary>
    public static IResult Refuse(string error, string description) =>
        Results.Forbid(
            new AuthenticationProperties(new Dictionary<string, string?>
            {
                [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
                [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
            }),
            [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);

    /// <summary>Every Tessera claim goes into the access token; who the person is also into the identity token.</summary>
    public static IEnumerable<string> Destinations(Claim claim) => claim.Type switch
    {
        TesseraClaims.Name or TesseraClaims.FhirUser or Claims.PreferredUsername => [OpenIddictConstants.Destinations.AccessToken, OpenIddictConstants.Destinations.IdentityToken],
        TesseraClaims.Subject => [OpenIddictConstants.Destinations.AccessToken, OpenIddictConstants.Destinations.IdentityToken],
        _ => [OpenIddictConstants.Destinations.AccessToken],
    };
}
