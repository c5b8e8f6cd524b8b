using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;
using OpenIddict.Server;
using OpenIddict.Server.AspNetCore;
using Tessera.Governance.Audit;
using Tessera.Web.Hosting;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Tessera.Web.Auth;

/// <summary>
/// Puts sign-in and tokens in the audit trail (docs/governance.md): every sign-in at the sign-in page, every answer
/// of the token, revocation and authorization endpoints (issued or refused, with OpenIddict's own refusals — a bad
/// client secret, a replayed or revoked refresh token — included), and every access token refused at the FHIR API.
/// </summary>
internal static class AuthAudit
{
    /// <summary>Where the token endpoint leaves the principal it signs in, for the audit of the response.</summary>
    private const string IssuedPrincipal = "tessera.audit.issued";

    public static Task RecordAsync(HttpContext context, AuthenticationEvent authentication) =>
        // Not the request's token: a caller that hangs up must not be able to stop its own audit. (No trail only on
        // the benchmark's ungoverned baseline.)
        context.RequestServices.GetRequiredService<TesseraWebApp.StoreHolder>().Governance?
            .RecordAuthenticationAsync(authentication with { Address = authentication.Address ?? context.Connection.RemoteIpAddress?.ToString() }, CancellationToken.None)
            ?? Task.CompletedTask;

    /// <summary>Remembers the principal a token is issued to (the response handler records it).</summary>
    public static void Issuing(HttpContext context, ClaimsPrincipal principal) => context.Items[IssuedPrincipal] = principal;

    /// <summary>Registers the response handlers on the OpenIddict server, before the response is written.</summary>
    public static void Register(OpenIddictServerBuilder server)
    {
        server.AddEventHandler<OpenIddictServerEvents.ApplyTokenResponseContext>(b => b
            .UseInlineHandler(c => new ValueTask(OnResponseAsync(c.Transaction, "token", logout: false)))
            .SetOrder(OpenIddictServerAspNetCoreHandlers.ProcessJsonResponse<OpenIddictServerEvents.ApplyTokenResponseContext>.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom));
        server.AddEventHandler<OpenIddictServerEvents.ApplyRevocationResponseContext>(b => b
            .UseInlineHandler(c => new ValueTask(OnResponseAsync(c.Transaction, "token-revocation", logout: true)))
            .SetOrder(OpenIddictServerAspNetCoreHandlers.ProcessJsonResponse<OpenIddictServerEvents.ApplyRevocationResponseContext>.Descriptor.Order - 1)
            .SetType(OpenIddictServerHandlerType.Custom));
        server.AddEventHandler<OpenIddictServerEvents.ApplyAuthorizationResponseContext>(b => b
            .UseInlineHandler(c => c.Transaction.Response?.Error is null ? ValueTask.CompletedTask : new ValueTask(OnResponseAsync(c.Transaction, "authorization", logout: false)))
            .SetOrder(int.MinValue + 50_000)
            .SetType(OpenIddictServerHandlerType.Custom));
    }

    private static async Task OnResponseAsync(OpenIddictServerTransaction transaction, string kind, bool logout)
    {
        if (transaction.GetHttpRequest()?.HttpContext is not { } http)
        {
            return;
        }

        var request = transaction.Request;
        var response = transaction.Response;
        var error = response?.Error;
        var principal = error is null ? http.Items[IssuedPrincipal] as ClaimsPrincipal : null;
        var scopes = request?.Scope ?? (principal is null ? null : string.Join(' ', principal.GetScopes()));
        await RecordAsync(http, new AuthenticationEvent
        {
            Kind = kind,
            Logout = logout,
            Outcome = error is null ? AuthenticationOutcome.Success : Severity(error, response?.ErrorDescription),
            Reason = error is null ? null : $"{error}: {response?.ErrorDescription}",
            Principal = principal,
            ClientId = request?.ClientId ?? principal?.FindFirst(TesseraClaims.ClientId)?.Value,
            Patient = principal?.FindFirst(TesseraClaims.Patient)?.Value,
            Detail = string.Join("; ", new[] { request?.GrantType is { } g ? "grant_type=" + g : null, scopes is { Length: > 0 } ? "scope=" + scopes : null }.OfType<string>()) is { Length: > 0 } d ? d : null,
        });
    }

    /// <summary>
    /// Serious: credentials that do not hold (a bad client secret, a replayed code or refresh token — a sign of a
    /// stolen token; OpenIddict then revokes its whole family). Minor: what a legitimate caller runs into.
    /// </summary>
    private static AuthenticationOutcome Severity(string error, string? description) => error switch
    {
        Errors.InvalidClient => AuthenticationOutcome.SeriousFailure,
        Errors.InvalidGrant when description?.Contains("redeemed", StringComparison.OrdinalIgnoreCase) == true => AuthenticationOutcome.SeriousFailure,
        _ => AuthenticationOutcome.MinorFailure,
    };
}
