using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Hl7.Fhir.Model;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Web.Auth;
using Tessera.Web.Hosting;
using Tessera.Web.Tests.Infrastructure;
using Claim = System.Security.Claims.Claim;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Web.Tests.Auth;

/// <summary>
/// Sign-in, tokens and refused tokens in the audit trail: each is a DICOM "User Authentication" AuditEvent (110114,
/// Login 110122 / Logout 110123) with outcome 0, 4 or 8, chained like every other event — so changing one is detected.
/// </summary>
public class AuthAuditTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    private const string Password = "correct horse battery staple";
    private const string Dicom = "http://dicom.nema.org/resources/ontology/DCM";

    private static readonly ClaimsPrincipal IgLead = new(new ClaimsIdentity(
        [new Claim("sub", "audit-reader"), new Claim("tessera_role", "ig-lead"), new Claim("fhirUser", "Practitioner/ig"), new Claim("scope", "user/*.rs")], "test"));

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>The newest audit events, read as the IG lead reads them, that mention <paramref name="marker"/>.</summary>
    internal static async Task<List<AuditEvent>> EventsAsync(TesseraHost host, string marker)
    {
        var governance = host.Services.GetRequiredService<TesseraWebApp.StoreHolder>().Governance!;
        await governance.Audit.FlushAsync();
        var store = host.Services.GetRequiredService<FhirStore>();
        var page = await store.ExecuteAsync(FhirRequest.FromUrl("GET", "AuditEvent?_count=1000") with { Principal = IgLead });
        Assert.Equal(200, page.Status);
        return [.. ((Bundle)page.Resource!).Entry.Select(e => (AuditEvent)e.Resource).Where(e => Tessera.RecordStore.Serialization.FhirSerialization.ToJson(e).Contains(marker, StringComparison.Ordinal)).Reverse()];
    }

    private static (string Kind, AuditEvent.AuditEventOutcome? Outcome) Shape(AuditEvent e)
    {
        Assert.Equal(Dicom, e.Type.System);
        Assert.Equal("110114", e.Type.Code);
        var dicom = e.Subtype.Single(s => s.System == Dicom);
        Assert.Contains(dicom.Code, new[] { "110122", "110123" });
        var kind = e.Subtype.Single(s => s.System == "urn:tessera:governance").Code!;
        return (dicom.Code == "110123" ? kind + " logout" : kind, e.Outcome);
    }

    /// <summary>A Patient, an app registered for people, and a citizen user tied to the Patient.</summary>
    private static async Task<(string Patient, string App, string User)> CitizenAsync(TesseraHost host, string scopes)
    {
        var me = await PatientAsync(host);
        var app = Unique("app");
        var user = Unique("citizen");
        await host.AddClientAsync(app, null, scopes, ClientRegistry.AuthorizationCode, SignInFlow.RedirectUri);
        await SignInFlow.AddUserAsync(host, new NewUser(user, "citizen", Patient: me), Password);
        return (me, app, user);
    }

    private static async Task<string> PatientAsync(TesseraHost host)
    {
        var id = Unique("pat");
        using var put = await host.Client.PutAsync($"/fhir/Patient/{id}", new StringContent($$"""{"resourceType":"Patient","id":"{{id}}"}""", Encoding.UTF8, "application/fhir+json"));
        Assert.True(put.IsSuccessStatusCode);
        return id;
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Sign_ins_and_token_answers_are_audited_and_chained(string backend)
    {
        var host = hosts.Host(backend);
        var (me, app, user) = await CitizenAsync(host, "openid fhirUser launch/patient offline_access patient/*.rs");
        using var flow = new SignInFlow(host);

        // A wrong password, then the right one, then the code redeemed for tokens, a refused scope, and a revocation.
        using (var start = await flow.GetAsync(flow.AuthorizeUrl(app, "openid patient/*.rs")))
        {
            await Assert.ThrowsAsync<Xunit.Sdk.TrueException>(() => flow.PostFormAsync(start.Headers.Location!.OriginalString, new() { ["username"] = user, ["password"] = "not the password" }));
        }

        var callback = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid fhirUser launch/patient offline_access patient/*.rs"), user, Password);
        var (status, body) = await flow.RedeemAsync(app, SignInFlow.QueryValue(callback, "code"));
        Assert.Equal(HttpStatusCode.OK, status);
        var refused = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid user/*.cruds"), user, Password);
        Assert.Equal("invalid_scope", SignInFlow.QueryValue(refused, "error"));
        using (var revoke = await host.Anonymous.PostAsync("/auth/revoke", new FormUrlEncodedContent(new Dictionary<string, string> { ["token"] = body.GetProperty("refresh_token").GetString()!, ["token_type_hint"] = "refresh_token", ["client_id"] = app })))
        {
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        }

        // Systems: a bad secret, scopes beyond the client's, a token issued.
        var system = Unique("sys");
        await host.AddClientAsync(system, "system-secret-123456", "system/Patient.rs");
        Assert.Equal(HttpStatusCode.Unauthorized, (await TesseraHost.ClientCredentialsAsync(host.Anonymous, system, "wrong-secret", "system/Patient.rs")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await TesseraHost.ClientCredentialsAsync(host.Anonymous, system, "system-secret-123456", "system/*.cruds")).Status);
        var (issued, token) = await TesseraHost.ClientCredentialsAsync(host.Anonymous, system, "system-secret-123456", "system/Patient.rs");
        Assert.Equal(HttpStatusCode.OK, issued);

        var ofUser = await EventsAsync(host, user);
        Assert.Equal(
            [("sign-in", AuditEvent.AuditEventOutcome.N4), ("sign-in", AuditEvent.AuditEventOutcome.N0)], // the second authorize rides on the session
            ofUser.Where(e => e.Type.Code == "110114" && e.Subtype.Any(s => s.Code == "sign-in")).Select(Shape));
        var failed = ofUser.First();
        Assert.Equal("urn:tessera:username", failed.Agent[0].Who.Identifier.System);
        Assert.Contains("not right", failed.OutcomeDesc, StringComparison.Ordinal);
        Assert.Contains(failed.Agent, a => a.Who?.Identifier?.Value == app);
        Assert.Equal($"Patient/{me}", ofUser[1].Agent[0].Who.Reference);

        var ofApp = (await EventsAsync(host, app)).Where(e => e.Type.Code == "110114" && !e.Subtype.Any(s => s.Code == "sign-in")).ToList();
        Assert.Equal(
            [("token", AuditEvent.AuditEventOutcome.N0), ("authorization", AuditEvent.AuditEventOutcome.N4), ("token-revocation logout", AuditEvent.AuditEventOutcome.N0)],
            ofApp.Select(Shape));
        Assert.Contains(ofApp[0].Entity, x => x.What?.Reference == $"Patient/{me}");
        Assert.Contains("grant_type=authorization_code", ofApp[0].Entity.Last().Description, StringComparison.Ordinal);
        Assert.StartsWith("invalid_scope", ofApp[1].OutcomeDesc, StringComparison.Ordinal);

        var ofSystem = await EventsAsync(host, system);
        Assert.Equal(
            [("token", AuditEvent.AuditEventOutcome.N8), ("token", AuditEvent.AuditEventOutcome.N4), ("token", AuditEvent.AuditEventOutcome.N0)],
            ofSystem.Select(Shape));
        Assert.StartsWith("invalid_client", ofSystem[0].OutcomeDesc, StringComparison.Ordinal);
        Assert.StartsWith("invalid_scope", ofSystem[1].OutcomeDesc, StringComparison.Ordinal);
        Assert.Equal("system", ofSystem[2].Agent[0].Role[0].Coding[0].Code);
        Assert.Contains(ofSystem[2].Agent, a => a.Who?.Identifier?.System == "urn:tessera:client" && a.Who.Identifier.Value == system);

        await AssertChainedAsync(host, ofSystem[0]);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Refused_tokens_at_the_fhir_api_are_audited_with_their_severity(string backend)
    {
        var host = hosts.Host(backend);
        var marker = Unique("probe");
        var (signing, _) = await host.Services.GetRequiredService<AuthStartup>().KeysAsync();
        using var stranger = RSA.Create(2048);
        var cases = new (string? Token, AuditEvent.AuditEventOutcome Outcome, string Reason)[]
        {
            (null, AuditEvent.AuditEventOutcome.N4, "No access token"),
            (SignInTests.Forge(new RsaSecurityKey(stranger) { KeyId = signing.KeyId }, "tessera-fhir", DateTime.UtcNow), AuditEvent.AuditEventOutcome.N8, "signature"),
            (SignInTests.Forge(signing, "https://other.example/fhir", DateTime.UtcNow), AuditEvent.AuditEventOutcome.N8, "audience"),
            (SignInTests.Forge(signing, "tessera-fhir", DateTime.UtcNow.AddHours(-3)), AuditEvent.AuditEventOutcome.N4, "no longer valid"),
        };
        for (var i = 0; i < cases.Length; i++)
        {
            using var withToken = cases[i].Token is { } t ? host.WithToken(t) : null;
            using var response = await (withToken ?? host.Anonymous).GetAsync($"/fhir/Patient?name={marker}-{i}");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        var events = await EventsAsync(host, marker);
        Assert.Equal(cases.Select(c => ("access-token", (AuditEvent.AuditEventOutcome?)c.Outcome)), events.Select(Shape));
        for (var i = 0; i < cases.Length; i++)
        {
            Assert.StartsWith("401", events[i].OutcomeDesc, StringComparison.Ordinal);
            Assert.Contains(cases[i].Reason, events[i].OutcomeDesc, StringComparison.OrdinalIgnoreCase);
            Assert.Equal($"GET /fhir/Patient?name={marker}-{i}", events[i].Entity.Single().Description);
        }

        await AssertChainedAsync(host, events[1]);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Scope_refusals_and_a_citizen_reaching_for_another_person_are_audited_under_that_person(string backend)
    {
        var host = hosts.Host(backend);
        var (me, app, user) = await CitizenAsync(host, "openid fhirUser launch/patient patient/*.rs");
        var other = await PatientAsync(host);

        var system = Unique("sys");
        await host.AddClientAsync(system, "system-secret-123456", "system/Patient.rs");
        var (_, body) = await TesseraHost.ClientCredentialsAsync(host.Anonymous, system, "system-secret-123456", "system/Patient.rs");
        using (var fhir = host.WithToken(body.GetProperty("access_token").GetString()!))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await fhir.GetAsync($"/fhir/Observation?subject=Patient/{me}")).StatusCode);
        }

        using var flow = new SignInFlow(host);
        var callback = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid fhirUser launch/patient patient/*.rs"), user, Password);
        var (_, tokens) = await flow.RedeemAsync(app, SignInFlow.QueryValue(callback, "code"));
        using (var citizen = host.WithToken(tokens.GetProperty("access_token").GetString()!))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await citizen.GetAsync($"/fhir/Patient/{other}")).StatusCode);
        }

        var scope = (await EventsAsync(host, system)).Single(e => e.Type.Code == "rest");
        Assert.Equal(AuditEvent.AuditEventOutcome.N4, scope.Outcome);
        Assert.StartsWith("403", scope.OutcomeDesc, StringComparison.Ordinal);
        Assert.Contains(scope.Entity, x => x.What?.Reference == $"Patient/{me}");

        // The person whose record was reached for finds the attempt under their own name.
        var store = host.Services.GetRequiredService<FhirStore>();
        var theirs = await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"AuditEvent?patient={other}") with { Principal = IgLead });
        var attempt = Assert.Single(((Bundle)theirs.Resource!).Entry.Select(e => (AuditEvent)e.Resource), e => e.Action == AuditEvent.AuditEventAction.R);
        Assert.Equal(AuditEvent.AuditEventOutcome.N4, attempt.Outcome);
        Assert.Equal($"Patient/{me}", attempt.Agent[0].Who.Reference);
        await AssertChainedAsync(host, attempt);
    }

    [Fact]
    public async Task Five_wrong_passwords_lock_the_account_and_a_replayed_refresh_token_are_serious_failures()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await TesseraHost.StartAsync("sqlite", services: s => s.AddSingleton<TimeProvider>(clock));
        var (me, app, user) = await CitizenAsync(host, "openid fhirUser launch/patient offline_access patient/*.rs");
        using var flow = new SignInFlow(host);
        var callback = await flow.AuthorizeAsync(flow.AuthorizeUrl(app, "openid fhirUser launch/patient offline_access patient/*.rs"), user, Password);
        var (_, tokens) = await flow.RedeemAsync(app, SignInFlow.QueryValue(callback, "code"));
        var refresh = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["client_id"] = app, ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()! };
        Assert.Equal(HttpStatusCode.OK, (await flow.TokenAsync(refresh)).Status);
        clock.Advance(TimeSpan.FromMinutes(5));
        var (replayed, error) = await flow.TokenAsync(refresh);
        Assert.Equal(HttpStatusCode.BadRequest, replayed);
        Assert.Equal("invalid_grant", error.GetProperty("error").GetString());

        using var other = new SignInFlow(host);
        using var start = await other.GetAsync(other.AuthorizeUrl(app, "openid patient/*.rs"));
        for (var i = 0; i < 6; i++)
        {
            await Assert.ThrowsAsync<Xunit.Sdk.TrueException>(() => other.PostFormAsync(start.Headers.Location!.OriginalString, new() { ["username"] = user, ["password"] = "not the password" }));
        }

        var tokenEvents = (await EventsAsync(host, app)).Where(e => e.Subtype.Any(s => s.Code == "token")).ToList();
        Assert.Equal([AuditEvent.AuditEventOutcome.N0, AuditEvent.AuditEventOutcome.N0, AuditEvent.AuditEventOutcome.N8], tokenEvents.Select(e => e.Outcome!.Value));
        Assert.Contains("grant_type=refresh_token", tokenEvents[2].Entity.Last().Description, StringComparison.Ordinal);
        var signIns = (await EventsAsync(host, user)).Where(e => e.Subtype.Any(s => s.Code == "sign-in")).Select(e => e.Outcome!.Value).ToList();
        Assert.Equal([AuditEvent.AuditEventOutcome.N0, .. Enumerable.Repeat(AuditEvent.AuditEventOutcome.N4, 4), AuditEvent.AuditEventOutcome.N8, AuditEvent.AuditEventOutcome.N8], signIns);
        await AssertChainedAsync(host, tokenEvents[2]);
    }

    /// <summary>The trail verifies; changing <paramref name="audited"/>'s stored row is detected and named; restoring it mends the chain.</summary>
    private static async Task AssertChainedAsync(TesseraHost host, AuditEvent audited)
    {
        var governance = host.Services.GetRequiredService<TesseraWebApp.StoreHolder>().Governance!;
        var before = await governance.VerifyAuditAsync();
        Assert.True(before.Intact, string.Join("; ", before.Problems.Select(p => p.Message)));
        Assert.Equal(0, before.Pending);

        var store = host.Services.GetRequiredService<FhirStore>();
        // Stored events are JSON (a compact interaction record, or a FHIR AuditEvent): one added space is a change.
        await ExecAsync(store, "UPDATE gov_audit_event SET json = REPLACE(json, '{\"', '{ \"') WHERE id = @id", audited.Id);
        try
        {
            var tampered = await governance.VerifyAuditAsync();
            Assert.False(tampered.Intact);
            Assert.Contains(tampered.Problems, p => p.Message.Contains(audited.Id, StringComparison.Ordinal));
        }
        finally
        {
            await ExecAsync(store, "UPDATE gov_audit_event SET json = REPLACE(json, '{ \"', '{\"') WHERE id = @id", audited.Id);
        }

        Assert.True((await governance.VerifyAuditAsync()).Intact);
    }

    private static async Task ExecAsync(FhirStore store, string sql, string id)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = FhirStore.Command(connection, sql, ("@id", id));
        Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
    }
}
