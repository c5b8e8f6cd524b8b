using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;
using OpenIddict.Validation;
using Tessera.RecordStore;
using Tessera.Web.Hosting;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace Tessera.Web.Auth;

/// <summary>Sign-in and tokens on the web host: OpenIddict server and validation, cookies, data protection.</summary>
internal static class AuthServices
{
    public static void Add(WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var auth = builder.Configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        services.AddOptions<AuthOptions>().Bind(builder.Configuration.GetSection(AuthOptions.Section));
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<AuthOptions>>().Value);
        services.TryAddTimeProvider();
        services.AddSingleton<AuthStartup>();
        services.AddSingleton<ValidatedTokens>();
        services.AddHostedService(sp => sp.GetRequiredService<AuthStartup>());
        services.AddSingleton<UserAccounts>();
        services.AddScoped<ClientRegistry>();
        services.AddDbContext<AuthDbContext>((sp, options) => AuthDbContext.Configure(options, sp.GetRequiredService<FhirStore>().Location));

        services.AddDataProtection().SetApplicationName("Tessera").PersistKeysToDbContext<AuthDbContext>();
        services.AddAntiforgery(o => o.Cookie.Name = "tessera.antiforgery");
        services.AddAuthentication().AddCookie(AuthorizationEndpoints.SignInScheme, o =>
        {
            o.Cookie.Name = "tessera.signin";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Cookie.SecurePolicy = auth.RequireHttps ? CookieSecurePolicy.Always : CookieSecurePolicy.SameAsRequest;
            o.ExpireTimeSpan = auth.SignInSessionLifetime;
            o.SlidingExpiration = true;
            o.LoginPath = "/auth/signin";
        });

        services.AddOpenIddict()
            .AddCore(o => o.UseEntityFrameworkCore().UseDbContext<AuthDbContext>())
            .AddServer(o =>
            {
                o.SetAuthorizationEndpointUris("auth/authorize")
                    .SetTokenEndpointUris("auth/token")
                    .SetRevocationEndpointUris("auth/revoke")
                    .SetEndSessionEndpointUris("auth/signout")
                    .SetIntrospectionEndpointUris("auth/introspect");
                o.AllowAuthorizationCodeFlow().AllowClientCredentialsFlow().AllowRefreshTokenFlow();
                o.RequireProofKeyForCodeExchange();
                // SMART scopes are open-ended (patient/Observation.rs): Tessera checks them against each client itself.
                o.DisableScopeValidation();
                o.IgnoreScopePermissions();
                o.RegisterScopes([.. SmartScope.NonResourceScopes]);
                // Resource servers read the claims: access tokens are signed JWTs, not encrypted ones.
                o.DisableAccessTokenEncryption();
                o.SetAccessTokenLifetime(auth.AccessTokenLifetime);
                o.SetRefreshTokenLifetime(auth.RefreshTokenLifetime);
                AuthAudit.Register(o);
                var aspnet = o.UseAspNetCore().EnableAuthorizationEndpointPassthrough().EnableTokenEndpointPassthrough().EnableEndSessionEndpointPassthrough();
                if (!auth.RequireHttps)
                {
                    aspnet.DisableTransportSecurityRequirement();
                }
            })
            .AddValidation(o =>
            {
                o.UseLocalServer();
                o.UseAspNetCore();
                o.AddAudiences(auth.Audience);
            });
        services.AddSingleton<IConfigureOptions<OpenIddictServerOptions>, ServerKeys>();
        services.AddSingleton<IPostConfigureOptions<OpenIddictServerOptions>, ServerClock>();
        services.AddSingleton<IPostConfigureOptions<OpenIddictValidationOptions>, ValidationClock>();
    }

    public static void Use(WebApplication app)
    {
        // The FHIR API authenticates each request's bearer token itself (FhirAuthentication); the authentication
        // middleware serves sign-in and the authorization server's endpoints. Running it on /fhir too would have
        // OpenIddict's server look at every FHIR request to see whether it is one of its endpoints.
        app.UseWhen(context => !context.Request.Path.StartsWithSegments(Fhir.FhirEndpoints.Base, StringComparison.Ordinal), branch => branch.UseAuthentication());

        // WebApplication adds the authentication middleware in front of everything when the application has not added
        // it itself, and it looks at the application's own builder only, not at the branch above: without this mark
        // every FHIR request still went through it (OpenIddict's handlers made and asked about each request, about a
        // tenth of a read's CPU time). The key is the one UseAuthentication sets.
        ((IApplicationBuilder)app).Properties[AuthenticationMiddlewareSetKey] = true;
        AuthorizationEndpoints.Map(app);
        SignOutEndpoints.Map(app);
        TokenEndpoint.Map(app);
        SmartConfiguration.Map(app);
    }

    private const string AuthenticationMiddlewareSetKey = "__AuthenticationMiddlewareSet";

    private static void TryAddTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }

    /// <summary>Signing and encryption keys from the shared database (the same on every node).</summary>
    private sealed class ServerKeys(AuthStartup startup) : IConfigureOptions<OpenIddictServerOptions>
    {
        public void Configure(OpenIddictServerOptions options)
        {
            var (signing, encryption) = startup.KeysAsync().GetAwaiter().GetResult();
            options.SigningCredentials.Add(new SigningCredentials(signing, SecurityAlgorithms.RsaSha256));
            options.EncryptionCredentials.Add(new EncryptingCredentials(encryption, SecurityAlgorithms.Aes256KW, SecurityAlgorithms.Aes256CbcHmacSha512));
            options.CodeChallengeMethods.Clear();
            options.CodeChallengeMethods.Add(CodeChallengeMethods.Sha256);
        }
    }

    private sealed class ServerClock(TimeProvider clock) : IPostConfigureOptions<OpenIddictServerOptions>
    {
        public void PostConfigure(string? name, OpenIddictServerOptions options) => options.TimeProvider = clock;
    }

    private sealed class ValidationClock(TimeProvider clock) : IPostConfigureOptions<OpenIddictValidationOptions>
    {
        public void PostConfigure(string? name, OpenIddictValidationOptions options) => options.TimeProvider = clock;
    }
}

/// <summary>Creates sign-in's tables and loads the shared keys when the host starts, so a problem stops start-up.</summary>
internal sealed class AuthStartup(TesseraWebApp.StoreHolder holder, TimeProvider clock) : IHostedService
{
    private readonly Lazy<Task<(SecurityKey, SecurityKey)>> _keys = new(async () =>
    {
        await AuthDatabase.MigrateAsync(holder.Store, CancellationToken.None);
        var keys = await AuthDatabase.LoadKeysAsync(holder.Store, clock, CancellationToken.None);
        holder.Store.AddGuard(new SmartScopeGuard());
        return keys;
    });

    public Task<(SecurityKey Signing, SecurityKey Encryption)> KeysAsync() => _keys.Value;

    public async Task StartAsync(CancellationToken cancellationToken) => await KeysAsync();

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
