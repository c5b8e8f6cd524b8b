using System.Net;
using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Web.Auth;
using Tessera.Web.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Web.Tests.Auth;

/// <summary>Signing out (OpenID Connect RP-initiated logout) against the real host: session ended, the app's refresh tokens revoked, audited.</summary>
public class SignOutTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    private const string Password = "correct horse battery staple";
    private const string AfterSignOut = "https://app.example/signed-out";

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private static async Task<(string App, string User)> CitizenAppAsync(TesseraHost host)
    {
        var patient = Unique("pat");
        using (var put = await host.Client.PutAsync($"/fhir/Patient/{patient}", new StringContent($$"""{"resourceType":"Patient","id":"{{patient}}"}""", Encoding.UTF8, "application/fhir+json")))
        {
            Assert.True(put.IsSuccessStatusCode);
        }

        var app = Unique("app");
        var user = Unique("citizen");
        await using (var scope = host.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<ClientRegistry>().AddAsync(
                new NewClient(app, null, "openid fhirUser launch/patient offline_access patient/*.rs".Split(' '), ClientRegistry.AuthorizationCode, [SignInFlow.RedirectUri]) { PostLogoutRedirectUris = [AfterSignOut] }, default);
        }

        await SignInFlow.AddUserAsync(host, new NewUser(user, "citizen", Patient: patient), Password);
        return (app, user);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task An_app_signs_its_user_out_their_session_ends_its_refresh_token_is_revoked_and_it_is_audited(string backend)
    {
        var host = hosts.Host(backend);
        var (app, user) = await CitizenAppAsync(host);
        using var flow = new SignInFlow(host);
        var callback = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid fhirUser launch/patient offline_access patient/*.rs"), user, Password);
        var (status, tokens) = await flow.RedeemAsync(app, SignInFlow.QueryValue(callback, "code"));
        Assert.Equal(HttpStatusCode.OK, status);
        var idToken = tokens.GetProperty("id_token").GetString()!;
        var refreshToken = tokens.GetProperty("refresh_token").GetString()!;

        // The app sends the person to sign out; they see who they are and which app, and confirm.
        var signOut = $"/auth/signout?id_token_hint={idToken}&post_logout_redirect_uri={Uri.EscapeDataString(AfterSignOut)}&state=so-1";
        using (var page = await flow.GetAsync(signOut))
        {
            var html = await page.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains(user, html, StringComparison.Ordinal);
            Assert.Contains(app, html, StringComparison.Ordinal);
        }

        using (var confirmed = await flow.SubmitPageAsync(signOut, []))
        {
            Assert.Equal(HttpStatusCode.Redirect, confirmed.StatusCode);
            Assert.Equal(AfterSignOut + "?state=so-1", confirmed.Headers.Location!.ToString());
        }

        // The refresh token no longer works, and the next authorization asks the person to sign in again.
        var (refreshed, error) = await flow.TokenAsync(new() { ["grant_type"] = "refresh_token", ["client_id"] = app, ["refresh_token"] = refreshToken });
        Assert.Equal(HttpStatusCode.BadRequest, refreshed);
        Assert.Equal("invalid_grant", error.GetProperty("error").GetString());
        using (var again = await flow.GetAsync(flow.AuthorizeUrl(app, "openid patient/*.rs")))
        {
            Assert.Equal(HttpStatusCode.Redirect, again.StatusCode);
            Assert.StartsWith("/auth/signin", again.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        var logout = (await LogoutsAsync(host, user)).Single();
        Assert.Equal(AuditEvent.AuditEventOutcome.N0, logout.Outcome);
        Assert.Contains(logout.Agent, a => a.Who?.Identifier?.Value == app);
        Assert.Contains(logout.Entity, e => e.Description?.Contains("this app; ", StringComparison.Ordinal) == true && !e.Description.Contains("; 0 tokens", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_return_address_the_app_did_not_register_is_refused_and_nobody_is_signed_out(string backend)
    {
        var host = hosts.Host(backend);
        var (app, user) = await CitizenAppAsync(host);
        using var flow = new SignInFlow(host);
        await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid patient/*.rs"), user, Password);

        using (var refused = await flow.GetAsync($"/auth/signout?client_id={app}&post_logout_redirect_uri={Uri.EscapeDataString("https://elsewhere.example/")}"))
        {
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        }

        // Still signed in: the next authorization goes straight back to the app.
        var callback = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid patient/*.rs"), user, "not needed: the session holds");
        Assert.NotNull(SignInFlow.QueryValue(callback, "code"));
        Assert.Empty(await LogoutsAsync(host, user));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Signing_out_at_tessera_itself_ends_the_session_and_shows_the_signed_out_page(string backend)
    {
        var host = hosts.Host(backend);
        var (app, user) = await CitizenAppAsync(host);
        using var flow = new SignInFlow(host);
        await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid patient/*.rs"), user, Password);

        using (var confirmed = await flow.SubmitPageAsync("/auth/signout", new() { ["everywhere"] = "true" }))
        {
            Assert.Equal(HttpStatusCode.Redirect, confirmed.StatusCode);
            Assert.Equal("/auth/signed-out", confirmed.Headers.Location!.OriginalString);
        }

        using (var page = await flow.GetAsync("/auth/signed-out"))
        {
            Assert.Contains("You have signed out", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var again = await flow.GetAsync(flow.AuthorizeUrl(app, "openid patient/*.rs")))
        {
            Assert.StartsWith("/auth/signin", again.Headers.Location!.OriginalString, StringComparison.Ordinal);
        }

        Assert.Contains((await LogoutsAsync(host, user)).Single().Entity, e => e.Description?.StartsWith("every app", StringComparison.Ordinal) == true);
    }

    /// <summary>The sign-out audit events (DICOM 110114 User Authentication, 110123 Logout) of a user, as the IG lead reads them.</summary>
    private static async Task<List<AuditEvent>> LogoutsAsync(TesseraHost host, string user) =>
        [.. (await AuthAuditTests.EventsAsync(host, user)).Where(e => e.Subtype.Any(s => s.Code == "sign-out") && e.Subtype.Any(s => s.Code == "110123"))];
}
