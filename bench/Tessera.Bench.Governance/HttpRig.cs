using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Web.Auth;
using Tessera.Web.Hosting;

namespace Tessera.Bench.Governance;

/// <summary>
/// The FHIR API over HTTP, twice on loopback over the benchmark's database: Tessera's own web host (token checks,
/// the FHIR endpoints, JSON) with governance, and the same host with the access policy and audit left out. A GP
/// signs in through the authorization code flow with PKCE and both are called with the GP's access token.
/// </summary>
internal sealed partial class HttpRig : IAsyncDisposable
{
    private const string ClientId = "bench-app";
    private const string RedirectUri = "http://127.0.0.1/bench-callback";

    private readonly WebApplication _governed;
    private readonly WebApplication _ungoverned;

    private HttpRig(WebApplication governed, WebApplication ungoverned, HttpClient governedClient, HttpClient ungovernedClient)
    {
        (_governed, _ungoverned, Governed, Ungoverned) = (governed, ungoverned, governedClient, ungovernedClient);
    }

    /// <summary>The GP's client of the governed host (base address its /fhir/).</summary>
    public HttpClient Governed { get; }

    /// <summary>The GP's client of the host without policy and audit.</summary>
    public HttpClient Ungoverned { get; }

    /// <summary>The audit trail of the governed host (its own store's, not the in-process store's).</summary>
    public Tessera.Governance.Audit.AuditTrail GovernedAudit => _governed.Services.GetRequiredService<TesseraWebApp.StoreHolder>().Governance!.Audit;

    public static async Task<HttpRig> StartAsync(string connectionString, FhirStore internalStore)
    {
        var governed = await StartHostAsync(connectionString, ungoverned: false);
        var ungoverned = await StartHostAsync(connectionString, ungoverned: true);

        // The GP of the in-process scenarios, as a user: a Practitioner in a PractitionerRole at org-a.
        foreach (Resource resource in new Resource[]
        {
            new Organization { Id = "org-a", Name = "Bench practice" },
            new Practitioner { Id = "p-gp", Name = [new HumanName { Family = "Bench", Given = ["GP"] }] },
            new PractitionerRole { Id = "pr-gp", Active = true, Practitioner = new ResourceReference("Practitioner/p-gp"), Organization = new ResourceReference("Organization/org-a") },
        })
        {
            var put = await internalStore.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"{resource.TypeName}/{resource.Id}", Resource = resource });
            if (put.Status is not (200 or 201))
            {
                throw new InvalidOperationException($"PUT {resource.TypeName}/{resource.Id}: {put.Status}");
            }
        }

        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        await governed.Services.GetRequiredService<UserAccounts>().AddAsync(new NewUser("bench-gp", "gp", "PractitionerRole/pr-gp"), password, default);
        await using (var scope = governed.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ClientRegistry>().AddAsync(new NewClient(ClientId, null, ["user/*.cruds"], ClientRegistry.AuthorizationCode, [RedirectUri]), default);
        }

        var governedBase = BaseAddress(governed);
        var token = await SignInAsync(governedBase, "bench-gp", password);

        // Tokens are signed with keys both hosts share through the database, so the one token serves both; the
        // second host is called by the first's name, as nodes behind one proxy are (the issuer is the host's URL).
        var second = Client(BaseAddress(ungoverned), token);
        second.DefaultRequestHeaders.Host = governedBase.Authority;
        return new HttpRig(governed, ungoverned, Client(governedBase, token), second);
    }

    private static async Task<WebApplication> StartHostAsync(string connectionString, bool ungoverned)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration["Tessera:Database"] = connectionString;
        builder.Configuration["Tessera:Identity:RunWorker"] = "false";
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.AddTessera();
        builder.Services.PostConfigure<TesseraOptions>(o => o.Ungoverned = ungoverned);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        app.UseTessera();
        await app.StartAsync();
        return app;
    }

    private static Uri BaseAddress(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");

    private static HttpClient Client(Uri baseAddress, string token)
    {
        var client = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = Timeout.InfiniteTimeSpan }) { BaseAddress = new Uri(baseAddress, "fhir/") };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        client.DefaultRequestHeaders.Accept.ParseAdd("application/fhir+json");
        return client;
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    [GeneratedRegex("name=\"returnUrl\" value=\"([^\"]*)\"")]
    private static partial Regex ReturnUrlField();

    /// <summary>The authorization code flow with PKCE as a browser goes through it: authorize, sign in, code, token.</summary>
    private static async Task<string> SignInAsync(Uri server, string userName, string password)
    {
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, CookieContainer = new CookieContainer() }) { BaseAddress = server };
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var url = $"auth/authorize?response_type=code&client_id={ClientId}&redirect_uri={Uri.EscapeDataString(RedirectUri)}&scope={Uri.EscapeDataString("user/*.cruds")}"
            + $"&state=bench&code_challenge={challenge}&code_challenge_method=S256&aud={Uri.EscapeDataString(new Uri(server, "fhir").ToString())}";
        for (var hop = 0; hop < 10; hop++)
        {
            url = Relative(server, url);
            using var response = await browser.GetAsync(url);
            var location = response.StatusCode == HttpStatusCode.Redirect ? response.Headers.Location!.OriginalString
                : throw new InvalidOperationException($"GET {url}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            if (location.StartsWith(RedirectUri, StringComparison.Ordinal))
            {
                var code = new Uri(location).Query.TrimStart('?').Split('&').Select(p => p.Split('=', 2)).First(p => p[0] == "code")[1];
                using var redeemed = await browser.PostAsync("auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["grant_type"] = "authorization_code",
                    ["client_id"] = ClientId,
                    ["code"] = Uri.UnescapeDataString(code),
                    ["redirect_uri"] = RedirectUri,
                    ["code_verifier"] = verifier,
                }));
                var body = await redeemed.Content.ReadAsStringAsync();
                return redeemed.IsSuccessStatusCode ? JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()! : throw new InvalidOperationException($"Token: {body}");
            }

            url = Relative(server, location);
            if (url.StartsWith("auth/signin", StringComparison.Ordinal))
            {
                var page = await browser.GetStringAsync(url);
                using var signedIn = await browser.PostAsync("auth/signin", new FormUrlEncodedContent(new Dictionary<string, string>
                {
                    ["username"] = userName,
                    ["password"] = password,
                    ["__RequestVerificationToken"] = WebUtility.HtmlDecode(AntiforgeryField().Match(page).Groups[1].Value),
                    ["returnUrl"] = WebUtility.HtmlDecode(ReturnUrlField().Match(page).Groups[1].Value),
                }));
                url = signedIn.StatusCode == HttpStatusCode.Redirect ? signedIn.Headers.Location!.OriginalString
                    : throw new InvalidOperationException($"Sign-in: {(int)signedIn.StatusCode}");
            }
        }

        throw new InvalidOperationException("The sign-in did not reach the app's redirect.");
    }

    private static string Relative(Uri server, string location) =>
        (location.StartsWith(server.ToString(), StringComparison.Ordinal) ? location[server.ToString().Length..] : location).TrimStart('/');

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        Governed.Dispose();
        Ungoverned.Dispose();
        foreach (var app in new[] { _governed, _ungoverned })
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
