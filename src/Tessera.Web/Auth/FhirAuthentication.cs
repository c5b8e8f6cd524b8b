using System.Security.Claims;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using OpenIddict.Validation.AspNetCore;
using Tessera.Governance.Audit;
using Tessera.RecordStore.Interactions;
using Tessera.Web.Fhir;
using Tessera.Web.Hosting;
using Claim = System.Security.Claims.Claim;

namespace Tessera.Web.Auth;

/// <summary>
/// Bearer tokens on /fhir: a missing or invalid token (bad signature, expired, another audience) is answered 401
/// with WWW-Authenticate and an OperationOutcome; a valid one becomes the caller on <see cref="FhirRequest.Principal"/>.
/// </summary>
internal static class FhirAuthentication
{
    /// <summary>
    /// OpenIddict's validation of a token not seen before. The authentication middleware does not run on /fhir (see
    /// <see cref="AuthServices.Use"/>), so the validation handler is given the request first, as the middleware would.
    /// </summary>
    private static async Task<AuthenticateResult> ValidateAsync(HttpContext context)
    {
        var handlers = context.RequestServices.GetRequiredService<IAuthenticationHandlerProvider>();
        if (await handlers.GetHandlerAsync(context, OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme) is IAuthenticationRequestHandler handler)
        {
            await handler.HandleRequestAsync();
        }

        return await context.AuthenticateAsync(OpenIddictValidationAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>The caller, or null after writing the 401 response.</summary>
    public static async Task<ClaimsPrincipal?> AuthenticateAsync(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        var hasToken = authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase);
        var validated = context.RequestServices.GetRequiredService<ValidatedTokens>();
        var token = hasToken ? authorization["Bearer ".Length..].Trim() : string.Empty;
        if (hasToken && validated.Find(token) is { } known)
        {
            return known;
        }

        var result = hasToken ? await ValidateAsync(context) : AuthenticateResult.NoResult();
        if (result.Succeeded && result.Principal is { } principal)
        {
            var caller = Caller(principal);
            validated.Remember(token, caller, principal.GetExpirationDate());
            return caller;
        }

        string header, message, reason;
        var outcome = AuthenticationOutcome.MinorFailure;
        if (!hasToken)
        {
            header = "Bearer realm=\"tessera\"";
            message = "This request needs an access token: send Authorization: Bearer <token>. How to get one: GET [base]/.well-known/smart-configuration.";
            reason = "No access token.";
        }
        else
        {
            var description = result.Properties?.GetString(OpenIddictValidationAspNetCoreConstants.Properties.ErrorDescription) ?? "The access token is not valid.";
            reason = description;

            // An expired token is ordinary; a forged one, or one made for another server, is not.
            outcome = description.Contains("no longer valid", StringComparison.OrdinalIgnoreCase) ? AuthenticationOutcome.MinorFailure : AuthenticationOutcome.SeriousFailure;
            header = $"Bearer realm=\"tessera\", error=\"invalid_token\", error_description=\"{description.Replace("\"", "'", StringComparison.Ordinal)}\"";
            message = $"The access token was refused: {description} Get a new token and try again.";
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Tessera.Auth")
                .LogWarning("Access token refused on {Path}: {Reason}", context.Request.Path.Value, description);
        }

        await AuthAudit.RecordAsync(context, new AuthenticationEvent
        {
            Kind = "access-token",
            Outcome = outcome,
            Reason = "401 " + reason,
            Detail = $"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}",
        });
        context.Response.Headers.WWWAuthenticate = header;
        await FhirResponseWriter.WriteOutcomeAsync(context, 401, Outcomes.Error(OperationOutcome.IssueType.Login, message));
        return null;
    }

    /// <summary>
    /// The caller as the policy reads it: exactly the agreed claims (sub, client_id, scope as one space-separated
    /// value, fhirUser, tessera_role, tessera_org, tessera_practitioner_role, patient), whatever the token format.
    /// </summary>
    private static ClaimsPrincipal Caller(ClaimsPrincipal token)
    {
        var identity = new ClaimsIdentity("Bearer", TesseraClaims.Subject, TesseraClaims.Role);
        foreach (var type in new[] { TesseraClaims.Subject, TesseraClaims.ClientId, TesseraClaims.Name, TesseraClaims.FhirUser, TesseraClaims.Role, TesseraClaims.Organization, TesseraClaims.PractitionerRole, TesseraClaims.Patient })
        {
            if (token.FindFirst(type)?.Value is { Length: > 0 } value)
            {
                identity.AddClaim(new Claim(type, value));
            }
        }

        var scopes = token.GetScopes();
        var scope = scopes.IsDefaultOrEmpty ? token.FindFirst(TesseraClaims.Scope)?.Value ?? string.Empty : string.Join(' ', scopes);
        identity.AddClaim(new Claim(TesseraClaims.Scope, scope));
        return new ClaimsPrincipal(identity);
    }

    /// <summary>This server's FHIR base URL, as SMART's aud and iss name it.</summary>
    public static string FhirBaseUrl(HttpContext context, TesseraOptions options) =>
        options.PublicBaseUrl?.TrimEnd('/') ?? $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}{FhirEndpoints.Base}";

    /// <summary>Where the authorization server's endpoints live (the FHIR base without /fhir).</summary>
    public static string ServerBaseUrl(HttpContext context, TesseraOptions options)
    {
        var fhir = FhirBaseUrl(context, options);
        return fhir.EndsWith(FhirEndpoints.Base, StringComparison.Ordinal) ? fhir[..^FhirEndpoints.Base.Length] : fhir;
    }
}
