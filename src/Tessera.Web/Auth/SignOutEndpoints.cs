using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Tessera.Governance.Audit;

namespace Tessera.Web.Auth;

/// <summary>
/// Signing out (OpenID Connect RP-initiated logout): an app sends the person to <c>/auth/signout</c> with its
/// <c>id_token_hint</c>, <c>post_logout_redirect_uri</c> and <c>state</c>, or the person goes there directly. The
/// person confirms; Tessera ends the sign-in session, revokes the refresh tokens and authorizations that app holds
/// for them (or every app's, when they ask), audits a Logout, and sends them back to the app or to a signed-out page.
/// </summary>
internal static class SignOutEndpoints
{
    private const string SignedOutPath = "/auth/signed-out";

    /// <summary>The end-session request's own parameters, carried from the confirmation page to its form.</summary>
    private static readonly string[] Carried = ["id_token_hint", "post_logout_redirect_uri", "state", "client_id", "ui_locales"];

    public static void Map(WebApplication app)
    {
        app.MapGet("/auth/signout", (Delegate)ConfirmAsync);
        app.MapPost("/auth/signout", SignOutAsync);
        app.MapGet(SignedOutPath, () => AuthorizationEndpoints.Html(SignInPages.Message("You have signed out", "You have signed out of Tessera. Close this window if you are on a shared computer.")));
    }

    private static async Task<IResult> ConfirmAsync(HttpContext context)
    {
        var request = EndSessionRequest(context);
        var user = await AuthorizationEndpoints.SignedInUserAsync(context);
        var fields = Carried.Select(name => (name, value: request.GetParameter(name)?.ToString()))
            .Where(f => !string.IsNullOrEmpty(f.value))
            .Select(f => (f.name, f.value!))
            .ToList();
        return AuthorizationEndpoints.Html(SignInPages.SignOut(user?.UserName, await ClientOfAsync(context, request), fields, AuthorizationEndpoints.AntiforgeryField(context)));
    }

    private static async Task<IResult> SignOutAsync(HttpContext context, IOpenIddictApplicationManager applications, IOpenIddictTokenManager tokens, IOpenIddictAuthorizationManager authorizations, ILoggerFactory loggers)
    {
        if (!await AuthorizationEndpoints.ValidAntiforgeryAsync(context))
        {
            return AuthorizationEndpoints.Html(SignInPages.Message("Sign-out expired", "The sign-out form was too old or incomplete. Go back and sign out again."), 400);
        }

        var request = EndSessionRequest(context);
        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var everywhere = form["everywhere"] == "true";
        var user = await AuthorizationEndpoints.SignedInUserAsync(context);
        var client = await ClientOfAsync(context, request);
        var revoked = 0;
        if (user is not null)
        {
            // Refresh tokens are what keep an app signed in after the session ends; access tokens are short-lived.
            string? application = null;
            if (!everywhere && client is not null && await applications.FindByClientIdAsync(client, context.RequestAborted) is { } app)
            {
                application = await applications.GetIdAsync(app, context.RequestAborted);
            }

            if (everywhere || application is not null)
            {
                // Read first, then revoke: PostgreSQL runs one command at a time on the context's connection.
                foreach (var token in await tokens.FindAsync(user.Id, application, OpenIddictConstants.Statuses.Valid, null, context.RequestAborted).ToListAsync(context.RequestAborted))
                {
                    revoked += await tokens.TryRevokeAsync(token, context.RequestAborted) ? 1 : 0;
                }

                foreach (var authorization in await authorizations.FindAsync(user.Id, application, OpenIddictConstants.Statuses.Valid, null, null, context.RequestAborted).ToListAsync(context.RequestAborted))
                {
                    await authorizations.TryRevokeAsync(authorization, context.RequestAborted);
                }
            }

            loggers.CreateLogger("Tessera.Auth").LogInformation("{UserName} signed out of {Client}; {Revoked} tokens revoked", user.UserName, everywhere ? "every app" : client ?? "Tessera", revoked);
            await AuthAudit.RecordAsync(context, new AuthenticationEvent
            {
                Kind = "sign-out",
                Logout = true,
                Principal = AuthorizationEndpoints.UserPrincipal(user),
                UserName = user.UserName,
                ClientId = client,
                Detail = $"{(everywhere ? "every app" : client is null ? "session only" : "this app")}; {revoked} tokens revoked",
            });
        }

        await context.SignOutAsync(AuthorizationEndpoints.SignInScheme);

        // OpenIddict sends the person to the app's registered post_logout_redirect_uri (with its state) when the
        // request named one; otherwise to the signed-out page.
        return Results.SignOut(new AuthenticationProperties { RedirectUri = SignedOutPath }, [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
    }

    /// <summary>The end-session request, as OpenIddict read and validated it before passing it through.</summary>
    private static OpenIddictRequest EndSessionRequest(HttpContext context) =>
        context.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("The end-session request was not read.");

    /// <summary>The app asking: its client_id, or the audience of the id token it sent as a hint.</summary>
    private static async Task<string?> ClientOfAsync(HttpContext context, OpenIddictRequest request)
    {
        if (!string.IsNullOrEmpty(request.ClientId))
        {
            return request.ClientId;
        }

        if (string.IsNullOrEmpty(request.IdTokenHint))
        {
            return null;
        }

        var hint = await context.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        return hint.Principal?.GetPresenters().FirstOrDefault() ?? hint.Principal?.GetAudiences().FirstOrDefault();
    }
}
