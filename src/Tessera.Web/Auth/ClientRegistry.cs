using System.Collections.Immutable;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Tessera.Web.Auth;

/// <summary>What <c>tessera clients add</c> registers: a system or an app and what it may ask for.</summary>
internal sealed record NewClient(string ClientId, string? Secret, IReadOnlyList<string> Scopes, string Grant, IReadOnlyList<string> RedirectUris, string? DisplayName = null)
{
    /// <summary>Where the app may send people back to after they sign out (OpenID Connect RP-initiated logout).</summary>
    public IReadOnlyList<string> PostLogoutRedirectUris { get; init; } = [];
}

/// <summary>A registered client as listed by <c>tessera clients list</c>.</summary>
internal sealed record ClientSummary(string ClientId, string? DisplayName, string ClientType, IReadOnlyList<string> Grants, IReadOnlyList<string> Scopes, IReadOnlyList<string> RedirectUris);

/// <summary>
/// OAuth clients, kept by OpenIddict (secrets hashed by it): systems using client credentials with system/ scopes,
/// and apps using the authorization code flow with PKCE (confidential with a secret, or public without one).
/// </summary>
internal sealed class ClientRegistry(IOpenIddictApplicationManager applications)
{
    public const string ClientCredentials = "client_credentials";
    public const string AuthorizationCode = "authorization_code";

    public async Task AddAsync(NewClient spec, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(spec.ClientId) || spec.ClientId.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException("--id must be given, without spaces.");
        }

        if (await applications.FindByClientIdAsync(spec.ClientId, ct) is not null)
        {
            throw new ArgumentException($"A client '{spec.ClientId}' is already registered (tessera clients list shows them).");
        }

        if (spec.Scopes.Count == 0)
        {
            throw new ArgumentException("Give --scopes: the SMART scopes the client may ask for, e.g. \"system/*.rs\".");
        }

        var forSystem = spec.Grant switch
        {
            ClientCredentials => true,
            AuthorizationCode => false,
            _ => throw new ArgumentException($"--grant is {ClientCredentials} (a system) or {AuthorizationCode} (an app people sign in to)."),
        };
        if (ScopeRules.Refusal(spec.Scopes, spec.Scopes, forSystem) is { } problem)
        {
            throw new ArgumentException(problem);
        }

        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = spec.ClientId,
            DisplayName = spec.DisplayName ?? spec.ClientId,
            ClientType = spec.Secret is null ? ClientTypes.Public : ClientTypes.Confidential,
            ClientSecret = spec.Secret,
        };
        descriptor.Permissions.UnionWith([Permissions.Endpoints.Token, Permissions.Endpoints.Revocation]);
        if (forSystem)
        {
            if (spec.Secret is null)
            {
                throw new ArgumentException("A client_credentials client needs --secret (or --secret-stdin).");
            }

            descriptor.Permissions.Add(Permissions.GrantTypes.ClientCredentials);
        }
        else
        {
            if (spec.RedirectUris.Count == 0)
            {
                throw new ArgumentException("An authorization_code client needs at least one --redirect-uri.");
            }

            descriptor.RedirectUris.UnionWith(spec.RedirectUris.Select(uri => AbsoluteUri(uri, "--redirect-uri")));
            descriptor.PostLogoutRedirectUris.UnionWith(spec.PostLogoutRedirectUris.Select(uri => AbsoluteUri(uri, "--post-logout-redirect-uri")));
            descriptor.Permissions.UnionWith([Permissions.Endpoints.Authorization, Permissions.Endpoints.EndSession, Permissions.GrantTypes.AuthorizationCode, Permissions.GrantTypes.RefreshToken, Permissions.ResponseTypes.Code]);
            descriptor.Requirements.Add(Requirements.Features.ProofKeyForCodeExchange);
        }

        descriptor.Permissions.UnionWith(spec.Scopes.Select(s => Permissions.Prefixes.Scope + s));
        await applications.CreateAsync(descriptor, ct);
    }

    private static Uri AbsoluteUri(string uri, string option) =>
        Uri.TryCreate(uri, UriKind.Absolute, out var parsed) && parsed.Fragment.Length == 0
            ? parsed
            : throw new ArgumentException($"{option} '{uri}' must be an absolute URI without a fragment.");

    /// <summary>Registers a client afresh, replacing one of the same id (the demo system's secret changes at each start).</summary>
    public async Task ReplaceAsync(NewClient spec, CancellationToken ct)
    {
        if (await applications.FindByClientIdAsync(spec.ClientId, ct) is { } existing)
        {
            await applications.DeleteAsync(existing, ct);
        }

        await AddAsync(spec, ct);
    }

    /// <summary>The scopes a client is registered for.</summary>
    public async Task<IReadOnlyCollection<string>> AllowedScopesAsync(object application, CancellationToken ct) =>
        ScopesOf(await applications.GetPermissionsAsync(application, ct));

    public async Task<IReadOnlyList<ClientSummary>> ListAsync(CancellationToken ct)
    {
        var list = new List<ClientSummary>();
        await foreach (var app in applications.ListAsync(null, null, ct))
        {
            var permissions = await applications.GetPermissionsAsync(app, ct);
            list.Add(new ClientSummary(
                await applications.GetClientIdAsync(app, ct) ?? string.Empty,
                await applications.GetDisplayNameAsync(app, ct),
                await applications.GetClientTypeAsync(app, ct) ?? string.Empty,
                [.. permissions.Where(p => p.StartsWith(Permissions.Prefixes.GrantType, StringComparison.Ordinal)).Select(p => p[Permissions.Prefixes.GrantType.Length..])],
                [.. ScopesOf(permissions)],
                [.. (await applications.GetRedirectUrisAsync(app, ct)).Select(u => u.ToString())]));
        }

        return [.. list.OrderBy(c => c.ClientId, StringComparer.Ordinal)];
    }

    private static List<string> ScopesOf(ImmutableArray<string> permissions) =>
        [.. permissions.Where(p => p.StartsWith(Permissions.Prefixes.Scope, StringComparison.Ordinal)).Select(p => p[Permissions.Prefixes.Scope.Length..])];
}
