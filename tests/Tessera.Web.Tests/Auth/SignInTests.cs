using System.Net;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Tessera.Testing;
using Tessera.Web.Auth;
using Tessera.Web.Tests.Infrastructure;

namespace Tessera.Web.Tests.Auth;

/// <summary>
/// Sign-in and SMART over the real host and token endpoint: the code flow with PKCE and a real sign-in form,
/// client credentials, refresh, launch context, and the refusals (no token, bad signature, expired, another
/// audience, scopes beyond the client's, a citizen reaching for another person's record).
/// </summary>
public class SignInTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    private const string Password = "correct horse battery staple";
    private const string AppScopes = "openid fhirUser launch launch/patient offline_access patient/*.rs user/*.cruds";

    /// <summary>A practice, a GP in a PractitionerRole there, two patients with an observation each.</summary>
    private static async Task<(string Me, string Other, string Role)> SeedAsync(HttpClient fhir)
    {
        var key = Guid.NewGuid().ToString("N")[..10];
        async Task PutAsync(string type, string id, string json)
        {
            using var response = await fhir.PutAsync($"/fhir/{type}/{id}", new StringContent(json, Encoding.UTF8, "application/fhir+json"));
            Assert.True(response.IsSuccessStatusCode, $"{type}/{id}: {await response.Content.ReadAsStringAsync()}");
        }

        await PutAsync("Organization", $"org-{key}", $$$"""{"resourceType":"Organization","id":"org-{{{key}}}","name":"Test practice"}""");
        await PutAsync("Practitioner", $"gp-{key}", $$$"""{"resourceType":"Practitioner","id":"gp-{{{key}}}","name":[{"family":"Jones","given":["Ann"],"prefix":["Dr"]}]}""");
        await PutAsync("PractitionerRole", $"gp-{key}-role", $$$"""{"resourceType":"PractitionerRole","id":"gp-{{{key}}}-role","active":true,"practitioner":{"reference":"Practitioner/gp-{{{key}}}"},"organization":{"reference":"Organization/org-{{{key}}}"}}""");
        foreach (var p in new[] { "me", "other" })
        {
            await PutAsync("Patient", $"{p}-{key}", $$$"""{"resourceType":"Patient","id":"{{{p}}}-{{{key}}}","name":[{"family":"Smith{{{key}}}","given":["{{{p}}}"]}],"generalPractitioner":[{"reference":"Organization/org-{{{key}}}"}]}""");
            await PutAsync("Observation", $"obs-{p}-{key}", $$$"""{"resourceType":"Observation","id":"obs-{{{p}}}-{{{key}}}","status":"final","code":{"text":"pulse"},"subject":{"reference":"Patient/{{{p}}}-{{{key}}}"}}""");
        }

        return ($"me-{key}", $"other-{key}", $"gp-{key}-role");
    }

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    private static Dictionary<string, JsonElement> Claims(string jwt) =>
        JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(Base64UrlEncoder.Decode(jwt.Split('.')[1]))!;

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_citizen_signs_in_with_code_and_pkce_sees_their_own_record_only_and_refreshes(string backend)
    {
        var host = hosts.Host(backend);
        var (me, other, _) = await SeedAsync(host.Client);
        var app = Unique("app");
        var user = Unique("citizen");
        await host.AddClientAsync(app, null, AppScopes, ClientRegistry.AuthorizationCode, SignInFlow.RedirectUri);
        await SignInFlow.AddUserAsync(host, new NewUser(user, "citizen", Patient: me), Password);
        using var flow = new SignInFlow(host);

        var callback = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid fhirUser launch/patient offline_access patient/*.rs"), user, Password);
        Assert.Equal("st-123", SignInFlow.QueryValue(callback, "state"));
        var code = SignInFlow.QueryValue(callback, "code");

        // A code is bound to its PKCE verifier: another verifier does not redeem it.
        var (wrongStatus, wrongBody) = await flow.RedeemAsync(app, code, SignInFlow.Base64Url(RandomNumberGenerator.GetBytes(32)));
        Assert.Equal(HttpStatusCode.BadRequest, wrongStatus);
        Assert.Equal("invalid_grant", wrongBody.GetProperty("error").GetString());

        var callback2 = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid fhirUser launch/patient offline_access patient/*.rs"), user, Password);
        var (status, body) = await flow.RedeemAsync(app, SignInFlow.QueryValue(callback2, "code"));
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(me, body.GetProperty("patient").GetString());
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.True(body.TryGetProperty("id_token", out _));
        var access = body.GetProperty("access_token").GetString()!;
        var claims = Claims(access);
        Assert.Equal($"Patient/{me}", claims["fhirUser"].GetString());
        Assert.Equal("citizen", claims["tessera_role"].GetString());
        Assert.Equal(me, claims["patient"].GetString());
        Assert.Equal(app, claims["client_id"].GetString());
        Assert.Contains("patient/*.rs", claims["scope"].GetString()!.Split(' '));

        using var fhir = host.WithToken(access);
        Assert.Equal(HttpStatusCode.OK, (await fhir.GetAsync($"/fhir/Patient/{me}")).StatusCode);
        using var others = await fhir.GetAsync($"/fhir/Patient/{other}");
        Assert.Equal(HttpStatusCode.Forbidden, others.StatusCode);
        Assert.Contains("OperationOutcome", await others.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await fhir.GetAsync($"/fhir/Observation/obs-{other}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await fhir.GetAsync($"/fhir/Patient/{other}/Observation")).StatusCode);

        // A search is confined to the patient's compartment, whatever it asks for.
        var search = JsonDocument.Parse(await fhir.GetStringAsync("/fhir/Observation?code:text=pulse&_count=100")).RootElement;
        var subjects = search.GetProperty("entry").EnumerateArray().Select(e => e.GetProperty("resource").GetProperty("subject").GetProperty("reference").GetString()).ToList();
        Assert.Equal([$"Patient/{me}"], subjects.Distinct());

        // Read scopes do not write.
        using var write = await fhir.PostAsync("/fhir/Observation", new StringContent($$$"""{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/{{{me}}}"}}""", Encoding.UTF8, "application/fhir+json"));
        Assert.Equal(HttpStatusCode.Forbidden, write.StatusCode);

        var (refreshStatus, refreshed) = await flow.TokenAsync(new() { ["grant_type"] = "refresh_token", ["client_id"] = app, ["refresh_token"] = body.GetProperty("refresh_token").GetString()! });
        Assert.True(refreshStatus == HttpStatusCode.OK, refreshed.ToString());
        Assert.Equal(me, refreshed.GetProperty("patient").GetString());
        Assert.Equal(me, Claims(refreshed.GetProperty("access_token").GetString()!)["patient"].GetString());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_practitioner_gets_a_patient_from_an_ehr_launch_or_the_picker(string backend)
    {
        var host = hosts.Host(backend);
        var (me, other, role) = await SeedAsync(host.Client);
        var app = Unique("app");
        var user = Unique("gp");
        await host.AddClientAsync(app, "app-secret-1234567", AppScopes, ClientRegistry.AuthorizationCode, SignInFlow.RedirectUri);
        await SignInFlow.AddUserAsync(host, new NewUser(user, "gp", PractitionerRole: role), Password);
        using var flow = new SignInFlow(host);

        // Standalone launch: the picker chooses the patient.
        var picked = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid fhirUser launch/patient patient/*.rs"), user, Password, pickPatient: other, pickQuery: "Smith" + other["other-".Length..]);
        var (status, body) = await flow.RedeemAsync(app, SignInFlow.QueryValue(picked, "code"), secret: "app-secret-1234567");
        Assert.True(status == HttpStatusCode.OK, body.ToString());
        Assert.Equal(other, body.GetProperty("patient").GetString());
        var claims = Claims(body.GetProperty("access_token").GetString()!);
        Assert.Equal("gp", claims["tessera_role"].GetString());
        Assert.Equal($"PractitionerRole/{role}", claims["tessera_practitioner_role"].GetString());
        Assert.StartsWith("Organization/org-", claims["tessera_org"].GetString(), StringComparison.Ordinal);

        // EHR launch: the practitioner's system gets a launch id for a patient, the app passes it on.
        using var ehr = host.WithToken(body.GetProperty("access_token").GetString()!);
        Assert.Equal(HttpStatusCode.Forbidden, (await ehr.PostAsync("/auth/launch", new FormUrlEncodedContent(new Dictionary<string, string> { ["patient"] = me }))).StatusCode);
        using var launchResponse = await host.Client.PostAsync("/auth/launch", new FormUrlEncodedContent(new Dictionary<string, string> { ["patient"] = me }));
        Assert.Equal(HttpStatusCode.OK, launchResponse.StatusCode);
        var launch = JsonDocument.Parse(await launchResponse.Content.ReadAsStringAsync()).RootElement.GetProperty("launch").GetString()!;
        var launched = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid fhirUser launch patient/*.rs user/*.cruds", launch), user, Password);
        var (launchStatus, launchBody) = await flow.RedeemAsync(app, SignInFlow.QueryValue(launched, "code"), secret: "app-secret-1234567");
        Assert.True(launchStatus == HttpStatusCode.OK, launchBody.ToString());
        Assert.Equal(me, launchBody.GetProperty("patient").GetString());

        // An unknown launch id is refused back to the app.
        using var bad = await flow.GetAsync(flow.AuthorizeUrl(app, "openid launch patient/*.rs", "no-such-launch"));
        Assert.Equal(HttpStatusCode.Redirect, bad.StatusCode);
        Assert.Equal("invalid_request", SignInFlow.QueryValue(bad.Headers.Location!, "error"));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task The_picker_finds_a_patient_by_nhs_number_or_by_name_and_date_of_birth(string backend)
    {
        var host = hosts.Host(backend);
        var (_, other, role) = await SeedAsync(host.Client);
        var key = other["other-".Length..];

        // A surname holding ten digits is still a name, not an NHS number.
        var digits = string.Concat(Enumerable.Range(0, 10).Select(_ => (char)('0' + RandomNumberGenerator.GetInt32(10))));
        var nhs = TestNhsNumbers.New(Random.Shared);
        var patient = $"ann-{key}";
        using (var put = await host.Client.PutAsync($"/fhir/Patient/{patient}", new StringContent($$$"""{"resourceType":"Patient","id":"{{{patient}}}","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"{{{nhs}}}"}],"name":[{"family":"Smith{{{digits}}}","given":["Ann"]}],"birthDate":"1950-03-12","generalPractitioner":[{"reference":"Organization/org-{{{key}}}"}]}""", Encoding.UTF8, "application/fhir+json")))
        {
            Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        }

        var app = Unique("app");
        var user = Unique("gp");
        await host.AddClientAsync(app, "app-secret-1234567", AppScopes, ClientRegistry.AuthorizationCode, SignInFlow.RedirectUri);
        await SignInFlow.AddUserAsync(host, new NewUser(user, "gp", PractitionerRole: role), Password);
        using var flow = new SignInFlow(host);

        foreach (var typed in new[] { $"ann smith{digits}", $"Smith{digits}, Ann", $"smith{digits} 12/03/1950", $"1950-03-12 Ann SMITH{digits}", $"{nhs[..3]} {nhs[3..6]} {nhs[6..]}", $"{nhs[..3]}-{nhs[3..6]}-{nhs[6..]}" })
        {
            var picked = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid launch/patient patient/*.rs"), user, Password, pickPatient: patient, pickQuery: typed);
            var (status, body) = await flow.RedeemAsync(app, SignInFlow.QueryValue(picked, "code"), secret: "app-secret-1234567");
            Assert.True(status == HttpStatusCode.OK, $"{typed}: {body}");
            Assert.Equal(patient, body.GetProperty("patient").GetString());
        }

        // Every word must match, the date of birth too; a wrong check digit is named as such rather than searched for.
        foreach (var typed in new[] { $"bob smith{digits}", $"smith{digits} 13/03/1950" })
        {
            using var page = await flow.GetAsync($"/auth/patient?returnUrl=%2Fauth%2Fauthorize&q={Uri.EscapeDataString(typed)}");
            Assert.Contains("No patients match", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // Nothing to search for lists nobody (it is not a search for everyone).
        using (var blank = await flow.GetAsync("/auth/patient?returnUrl=%2Fauth%2Fauthorize&q=%20%2C%20"))
        {
            var html = await blank.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, blank.StatusCode);
            Assert.DoesNotContain("name=\"patient\"", html, StringComparison.Ordinal);
            Assert.DoesNotContain("No patients match", html, StringComparison.Ordinal);
        }

        var wrong = nhs[..9] + (char)('0' + ((nhs[9] - '0' + 1) % 10));
        using var invalid = await flow.GetAsync($"/auth/patient?returnUrl=%2Fauth%2Fauthorize&q={wrong}");
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var invalidHtml = await invalid.Content.ReadAsStringAsync();
        Assert.Contains("not a valid NHS number", invalidHtml, StringComparison.Ordinal);
        Assert.DoesNotContain("No patients match", invalidHtml, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Scopes_beyond_the_clients_and_bad_passwords_are_refused(string backend)
    {
        var host = hosts.Host(backend);
        var (me, _, _) = await SeedAsync(host.Client);
        var system = Unique("sys");
        await host.AddClientAsync(system, "system-secret-123456", "system/*.rs");
        var (status, body) = await TesseraHost.ClientCredentialsAsync(host.Anonymous, system, "system-secret-123456", "system/*.cruds");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_scope", body.GetProperty("error").GetString());
        (status, body) = await TesseraHost.ClientCredentialsAsync(host.Anonymous, system, "wrong-secret", "system/*.rs");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("invalid_client", body.GetProperty("error").GetString());

        // Within its scopes the system may read but not write.
        (status, body) = await TesseraHost.ClientCredentialsAsync(host.Anonymous, system, "system-secret-123456", "system/Patient.rs");
        Assert.Equal(HttpStatusCode.OK, status);
        using var fhir = host.WithToken(body.GetProperty("access_token").GetString()!);
        Assert.Equal(HttpStatusCode.OK, (await fhir.GetAsync($"/fhir/Patient/{me}")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await fhir.GetAsync($"/fhir/Observation/obs-{me}")).StatusCode);
        using var delete = await fhir.DeleteAsync($"/fhir/Patient/{me}");
        Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
        Assert.Contains("forbidden", await delete.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A citizen cannot be given user/ scopes, even by a client that has them.
        var app = Unique("app");
        var user = Unique("citizen");
        await host.AddClientAsync(app, null, AppScopes, ClientRegistry.AuthorizationCode, SignInFlow.RedirectUri);
        await SignInFlow.AddUserAsync(host, new NewUser(user, "citizen", Patient: me), Password);
        using var flow = new SignInFlow(host);
        var refused = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid user/*.cruds"), user, Password);
        Assert.Equal("invalid_scope", SignInFlow.QueryValue(refused, "error"));
        var beyond = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid patient/*.cruds"), user, Password);
        Assert.Equal("invalid_scope", SignInFlow.QueryValue(beyond, "error"));
        var wrongAud = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid patient/*.rs", aud: "https://elsewhere.example/fhir"), user, Password);
        Assert.Equal("invalid_request", SignInFlow.QueryValue(wrongAud, "error"));

        // A wrong password is refused with a message and no session.
        using var other = new SignInFlow(host);
        using var start = await other.GetAsync(other.AuthorizeUrl(app, "openid patient/*.rs"));
        var page = await other.GetAsync(start.Headers.Location!.OriginalString);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<label for=\"password\">", html, StringComparison.Ordinal);
        await Assert.ThrowsAsync<Xunit.Sdk.TrueException>(() => other.PostFormAsync(start.Headers.Location!.OriginalString, new() { ["username"] = user, ["password"] = "not the password" }));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Fhir_refuses_missing_forged_and_foreign_tokens_with_401(string backend)
    {
        var host = hosts.Host(backend);
        using var none = await host.Anonymous.GetAsync("/fhir/Patient");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.StartsWith("Bearer", none.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Contains("\"login\"", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await host.Anonymous.GetAsync("/fhir/metadata")).StatusCode);

        var (signing, _) = await host.Services.GetRequiredService<AuthStartup>().KeysAsync();
        using var control = host.WithToken(Forge(signing, "tessera-fhir", DateTime.UtcNow));
        Assert.Equal(HttpStatusCode.OK, (await control.GetAsync("/fhir/Patient?_count=1")).StatusCode);

        using var stranger = RSA.Create(2048);
        var foreignKey = new RsaSecurityKey(stranger) { KeyId = signing.KeyId };
        await AssertRefusedAsync(host, Forge(foreignKey, "tessera-fhir", DateTime.UtcNow), "signature");
        await AssertRefusedAsync(host, Forge(signing, "https://other.example/fhir", DateTime.UtcNow), "audience");
        await AssertRefusedAsync(host, Forge(signing, "tessera-fhir", DateTime.UtcNow.AddHours(-3)), "no longer valid");
    }

    private static async Task AssertRefusedAsync(TesseraHost host, string token, string reason)
    {
        using var client = host.WithToken(token);
        using var response = await client.GetAsync("/fhir/Patient?_count=1");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var header = response.Headers.WwwAuthenticate.ToString();
        Assert.Contains("invalid_token", header, StringComparison.Ordinal);
        Assert.True(header.Contains(reason, StringComparison.OrdinalIgnoreCase), header);
        Assert.Contains("OperationOutcome", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    /// <summary>An access token shaped like Tessera's (at+jwt, same claims), signed with the given key.</summary>
    internal static string Forge(SecurityKey key, string audience, DateTime issued) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "http://localhost/",
            Audience = audience,
            IssuedAt = issued,
            NotBefore = issued,
            Expires = issued.AddMinutes(30),
            TokenType = "at+jwt",
            Subject = new ClaimsIdentity([new Claim("sub", "forger"), new Claim("client_id", TesseraHost.TestClientId), new Claim("scope", "system/*.rs"), new Claim("tessera_role", "system")]),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });

    [Fact]
    public async Task An_access_token_stops_working_when_it_expires()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await TesseraHost.StartAsync("sqlite", services: s => s.AddSingleton<TimeProvider>(clock));
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("/fhir/Patient?_count=1")).StatusCode);
        clock.Advance(TimeSpan.FromMinutes(31));
        using var response = await host.Client.GetAsync("/fhir/Patient?_count=1");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("no longer valid", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_smart_configuration_and_capability_statement_describe_the_authorization_server()
    {
        var host = hosts.Host("sqlite");
        var config = JsonDocument.Parse(await host.Anonymous.GetStringAsync("/fhir/.well-known/smart-configuration")).RootElement;
        Assert.Equal("http://localhost/auth/authorize", config.GetProperty("authorization_endpoint").GetString());
        Assert.Equal("http://localhost/auth/token", config.GetProperty("token_endpoint").GetString());
        Assert.Equal(["S256"], config.GetProperty("code_challenge_methods_supported").EnumerateArray().Select(e => e.GetString()));
        var capabilities = config.GetProperty("capabilities").EnumerateArray().Select(e => e.GetString()).ToList();
        Assert.Contains("launch-ehr", capabilities);
        Assert.Contains("launch-standalone", capabilities);
        Assert.Contains("permission-v2", capabilities);
        Assert.Contains("context-standalone-patient", capabilities);
        Assert.Contains("client_credentials", config.GetProperty("grant_types_supported").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("launch/patient", config.GetProperty("scopes_supported").EnumerateArray().Select(e => e.GetString()));

        // The openid configuration OpenIddict serves agrees.
        var openid = JsonDocument.Parse(await host.Anonymous.GetStringAsync("/.well-known/openid-configuration")).RootElement;
        Assert.Equal(config.GetProperty("token_endpoint").GetString(), openid.GetProperty("token_endpoint").GetString());

        var metadata = JsonDocument.Parse(await host.Anonymous.GetStringAsync("/fhir/metadata")).RootElement;
        var security = metadata.GetProperty("rest")[0].GetProperty("security");
        Assert.Equal("SMART-on-FHIR", security.GetProperty("service")[0].GetProperty("coding")[0].GetProperty("code").GetString());
        var uris = security.GetProperty("extension")[0];
        Assert.Equal(SmartConfiguration.OAuthUrisExtension, uris.GetProperty("url").GetString());
        Assert.Contains(uris.GetProperty("extension").EnumerateArray(), e => e.GetProperty("url").GetString() == "token" && e.GetProperty("valueUri").GetString() == "http://localhost/auth/token");
    }
}
