using System.Security.Claims;
using Hl7.Fhir.Model;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Extensions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using Tessera.Governance.Audit;
using Tessera.Identity.NhsNumbers;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Web.Hosting;
using static OpenIddict.Abstractions.OpenIddictConstants;
using Claim = System.Security.Claims.Claim;

namespace Tessera.Web.Auth;

/// <summary>
/// The people-facing half of the authorization server: sign-in, the patient picker, the authorization endpoint
/// (code flow with PKCE, SMART EHR and standalone launch) and launch ids for EHRs.
/// </summary>
internal static class AuthorizationEndpoints
{
    public const string SignInScheme = "Tessera.SignIn";
    public const string PickedLaunchParameter = "tessera_pick";

    public static void Map(WebApplication app)
    {
        app.MapGet("/auth/signin", SignInFormAsync);
        app.MapPost("/auth/signin", SignInAsync);
        app.MapGet("/auth/patient", PatientPickerAsync);
        app.MapPost("/auth/patient", PickPatientAsync);
        app.MapMethods("/auth/authorize", ["GET", "POST"], AuthorizeAsync);
        app.MapPost("/auth/launch", CreateLaunchAsync);
    }

    internal static IResult Html(string html, int status = 200) => Results.Content(html, "text/html; charset=utf-8", statusCode: status);

    internal static string AntiforgeryField(HttpContext context)
    {
        var tokens = context.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(context);
        return $"<input type=\"hidden\" name=\"{tokens.FormFieldName}\" value=\"{System.Net.WebUtility.HtmlEncode(tokens.RequestToken)}\">";
    }

    /// <summary>Only the authorization endpoint and the picker are places to return to: no open redirect.</summary>
    private static string SafeReturnUrl(string? returnUrl) =>
        returnUrl is not null && (returnUrl.StartsWith("/auth/authorize?", StringComparison.Ordinal) || returnUrl == "/auth/authorize") ? returnUrl : "/auth/authorize";

    private static IResult SignInFormAsync(HttpContext context, string? returnUrl) =>
        Html(SignInPages.SignIn(SafeReturnUrl(returnUrl), AntiforgeryField(context), null, null));

    private static async Task<IResult> SignInAsync(HttpContext context, UserAccounts users, ILoggerFactory loggers)
    {
        if (!await ValidAntiforgeryAsync(context))
        {
            return Html(SignInPages.Message("Sign-in expired", "The sign-in form was too old or incomplete. Go back to the app and start again."), 400);
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var returnUrl = SafeReturnUrl(form["returnUrl"]);
        var userName = form["username"].ToString();
        var password = form["password"].ToString();
        if (userName.Length == 0 || password.Length == 0)
        {
            return Html(SignInPages.SignIn(returnUrl, AntiforgeryField(context), "Enter your username and password.", userName), 400);
        }

        var (user, problem, locked) = await users.VerifyAsync(userName, password, context.RequestAborted);
        var log = loggers.CreateLogger("Tessera.Auth");
        var client = ClientOf(returnUrl);
        if (user is null)
        {
            log.LogWarning("Sign-in refused for {UserName}: {Reason}", UserAccounts.Normalise(userName), problem);
            await AuthAudit.RecordAsync(context, new AuthenticationEvent
            {
                Kind = "sign-in",
                Outcome = locked ? AuthenticationOutcome.SeriousFailure : AuthenticationOutcome.MinorFailure,
                Reason = problem,
                UserName = UserAccounts.Normalise(userName),
                ClientId = client,
            });
            return Html(SignInPages.SignIn(returnUrl, AntiforgeryField(context), problem, userName), 401);
        }

        log.LogInformation("{UserName} signed in as {Role}", user.UserName, user.Role);
        await AuthAudit.RecordAsync(context, new AuthenticationEvent
        {
            Kind = "sign-in",
            Principal = UserPrincipal(user),
            UserName = user.UserName,
            ClientId = client,
        });
        var identity = new ClaimsIdentity(SignInScheme, Claims.Name, Claims.Role);
        identity.AddClaim(new Claim(Claims.Subject, user.Id));
        identity.AddClaim(new Claim(Claims.Name, user.UserName));
        await context.SignInAsync(SignInScheme, new ClaimsPrincipal(identity));
        return Results.Redirect(returnUrl);
    }

    /// <summary>The app a sign-in is for: the client_id of the authorization request it returns to.</summary>
    private static string? ClientOf(string returnUrl)
    {
        var q = returnUrl.IndexOf('?', StringComparison.Ordinal);
        return q < 0 ? null : Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(returnUrl[q..]).TryGetValue("client_id", out var id) && id.ToString() is { Length: > 0 } value ? value : null;
    }

    internal static async Task<bool> ValidAntiforgeryAsync(HttpContext context) =>
        context.Request.HasFormContentType && await context.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(context);

    internal static async Task<UserAccount?> SignedInUserAsync(HttpContext context)
    {
        var session = await context.AuthenticateAsync(SignInScheme);
        if (!session.Succeeded || session.Principal.FindFirst(Claims.Subject)?.Value is not { } id)
        {
            return null;
        }

        var user = await context.RequestServices.GetRequiredService<UserAccounts>().FindAsync(id, context.RequestAborted);
        return user is { Disabled: false } ? user : null;
    }

    private static async Task<IResult> PatientPickerAsync(HttpContext context, FhirStore store, string? returnUrl, string? q)
    {
        returnUrl = SafeReturnUrl(returnUrl);
        if (await SignedInUserAsync(context) is not { } user)
        {
            return Results.Redirect("/auth/signin?returnUrl=" + Uri.EscapeDataString(returnUrl));
        }

        var text = q?.Trim() ?? string.Empty;
        var words = text.Split(PickerSeparators, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 0)
        {
            return Html(SignInPages.PatientPicker(returnUrl, AntiforgeryField(context), null, [], null));
        }

        if (PickerQuery(text, words) is not { } query)
        {
            return Html(SignInPages.PatientPicker(returnUrl, AntiforgeryField(context), q, [], "That is not a valid NHS number. Check the 10 digits, or search by name."), 400);
        }

        // The search runs as the signed-in person with user/Patient.rs, so the access policy decides what they see.
        var request = FhirRequest.FromUrl("GET", query) with { Principal = PickerPrincipal(user) };
        var response = await store.ExecuteAsync(request, context.RequestAborted);
        var patients = response.Resource is Bundle bundle ? bundle.Entry.Select(e => e.Resource).OfType<Patient>().ToList() : [];
        var error = response.Status >= 400 ? response.Outcome?.Issue.FirstOrDefault()?.Diagnostics ?? "The search failed." : null;
        return Html(SignInPages.PatientPicker(returnUrl, AntiforgeryField(context), q, patients, error));
    }

    /// <summary>What separates the words typed in the picker.</summary>
    private static readonly char[] PickerSeparators = [' ', ','];

    /// <summary>
    /// The search the picker runs for what was typed (<paramref name="text"/>, split into <paramref name="words"/>): an
    /// NHS number when it is digits only (spaces and hyphens allowed, as people write it); else every word must match, a
    /// date (12/03/1950, 1950-03-12) as the date of birth and any other word as part of a name, so "ann smith" and
    /// "smith 12/03/1950" find Ann Smith. Null when it is digits only but not a valid NHS number.
    /// </summary>
    internal static string? PickerQuery(string text, string[] words)
    {
        var born = Array.ConvertAll(words, BirthDate);
        if (born.Any(d => d is null) && text.All(c => char.IsAsciiDigit(c) || c is ' ' or '-'))
        {
            return NhsNumber.TryNormalise(text, out var number) ? $"Patient?identifier={NhsNumber.System}|{number}&_count=20" : null;
        }

        return "Patient?" + string.Concat(words.Select((w, i) => born[i] is { } date ? $"birthdate={date:yyyy-MM-dd}&" : "name=" + Uri.EscapeDataString(w) + "&")) + "_count=20";
    }

    private static readonly string[] DateFormats = ["d/M/yyyy", "d-M-yyyy", "d.M.yyyy", "yyyy-M-d"];

    private static DateOnly? BirthDate(string word) =>
        DateOnly.TryParseExact(word, DateFormats, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var date) ? date : null;

    private static ClaimsPrincipal PickerPrincipal(UserAccount user)
    {
        var identity = new ClaimsIdentity(UserClaims(user), "Tessera.PatientPicker");
        identity.AddClaim(new Claim(TesseraClaims.Scope, "user/Patient.rs"));
        return new ClaimsPrincipal(identity);
    }

    private static async Task<IResult> PickPatientAsync(HttpContext context, FhirStore store, IOptions<AuthOptions> options, TimeProvider clock)
    {
        if (!await ValidAntiforgeryAsync(context))
        {
            return Html(SignInPages.Message("Form expired", "Go back to the app and start again."), 400);
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted);
        var returnUrl = SafeReturnUrl(form["returnUrl"]);
        if (await SignedInUserAsync(context) is not { } user)
        {
            return Results.Redirect("/auth/signin?returnUrl=" + Uri.EscapeDataString(returnUrl));
        }

        var patient = form["patient"].ToString();
        if (patient.Length == 0)
        {
            return Html(SignInPages.PatientPicker(returnUrl, AntiforgeryField(context), null, [], "Choose a patient."), 400);
        }

        var launch = await SaveLaunchAsync(store, patient, user.Id, user.Id, options.Value, clock, context.RequestAborted);
        return Results.Redirect(returnUrl + (returnUrl.Contains('?', StringComparison.Ordinal) ? "&" : "?") + PickedLaunchParameter + "=" + launch);
    }

    private static async Task<string> SaveLaunchAsync(FhirStore store, string patient, string? userId, string createdBy, AuthOptions options, TimeProvider clock, CancellationToken ct)
    {
        await using var db = AuthDatabase.CreateContext(store);
        var launch = new LaunchContext
        {
            PatientId = patient,
            UserId = userId,
            CreatedBy = createdBy,
            ExpiresAt = clock.GetUtcNow().Add(options.LaunchLifetime).ToUnixTimeMilliseconds(),
        };
        db.LaunchContexts.Add(launch);
        await db.SaveChangesAsync(ct);
        return launch.Id;
    }

    private static async Task<LaunchContext?> FindLaunchAsync(FhirStore store, string id, string userId, TimeProvider clock, CancellationToken ct)
    {
        await using var db = AuthDatabase.CreateContext(store);
        var launch = await db.LaunchContexts.AsNoTracking().FirstOrDefaultAsync(l => l.Id == id, ct);
        return launch is not null && launch.ExpiresAt > clock.GetUtcNow().ToUnixTimeMilliseconds() && (launch.UserId is null || launch.UserId == userId) ? launch : null;
    }

    /// <summary>
    /// POST /auth/launch (EHR launch): a practitioner's system, holding a token for its user or a system token
    /// with the launch scope, gets a launch id bound to a patient, then opens the app with ?launch=&lt;id&gt;&amp;iss=...
    /// </summary>
    private static async Task<IResult> CreateLaunchAsync(HttpContext context, FhirStore store, IOptions<AuthOptions> options, TimeProvider clock)
    {
        if (await FhirAuthentication.AuthenticateAsync(context) is not { } principal)
        {
            return Results.Empty;
        }

        var role = principal.FindFirst(TesseraClaims.Role)?.Value;
        var grant = SmartGrant.From(principal);
        if (role is null || !TesseraClaims.IsPractitionerRole(role) && role != "system" || grant.Reach("Patient", ScopePermissions.Read) != ScopeReach.Unconfined)
        {
            return OAuthError(403, Errors.InsufficientScope, "Launch ids are created by a practitioner's or a system's token that may read Patient (user/ or system/ scope).");
        }

        var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted) : null;
        var patient = form?["patient"].ToString() ?? context.Request.Query["patient"].ToString();
        if (string.IsNullOrWhiteSpace(patient))
        {
            return OAuthError(400, Errors.InvalidRequest, "Give the patient in context: patient=<Patient id> (form field).");
        }

        var read = await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"Patient/{patient}") with { Principal = principal }, context.RequestAborted);
        if (read.Status != 200)
        {
            return OAuthError(read.Status == 403 ? 403 : 400, Errors.InvalidRequest, read.Outcome?.Issue.FirstOrDefault()?.Diagnostics ?? $"Patient/{patient} is not in the record.");
        }

        var sub = principal.FindFirst(TesseraClaims.Subject)?.Value ?? string.Empty;
        var launch = await SaveLaunchAsync(store, patient, role == "system" ? null : sub, sub, options.Value, clock, context.RequestAborted);
        return Results.Json(new Dictionary<string, object> { ["launch"] = launch, ["patient"] = patient, ["expires_in"] = (int)options.Value.LaunchLifetime.TotalSeconds });
    }

    private static IResult OAuthError(int status, string error, string description) =>
        Results.Json(new Dictionary<string, string> { ["error"] = error, ["error_description"] = description }, statusCode: status);

    private static IResult Refuse(string error, string description) => TokenEndpoint.Refuse(error, description);

    private static async Task<IResult> AuthorizeAsync(HttpContext context, FhirStore store, IOpenIddictApplicationManager applications, ClientRegistry clients, IOptions<AuthOptions> options, IOptions<TesseraOptions> tessera, TimeProvider clock)
    {
        var request = context.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("The OpenID Connect request cannot be retrieved.");
        var fhirBase = FhirAuthentication.FhirBaseUrl(context, tessera.Value);
        if (request["aud"]?.ToString() is { Length: > 0 } aud && !string.Equals(aud.TrimEnd('/'), fhirBase, StringComparison.OrdinalIgnoreCase))
        {
            return Refuse(Errors.InvalidRequest, $"aud must be this server's FHIR base URL, {fhirBase}.");
        }

        var user = await SignedInUserAsync(context);
        var here = context.Request.PathBase + "/auth/authorize" + QueryString.Create(request.GetParameters().Select(p => new KeyValuePair<string, string?>(p.Key, p.Value.ToString())));
        if (user is null)
        {
            return request.HasPromptValue(PromptValues.None)
                ? Refuse(Errors.LoginRequired, "The user is not signed in.")
                : Results.Redirect("/auth/signin?returnUrl=" + Uri.EscapeDataString(here));
        }

        var application = await applications.FindByClientIdAsync(request.ClientId!, context.RequestAborted) ?? throw new InvalidOperationException("The client was validated but cannot be found.");
        var scopes = request.GetScopes();
        var citizen = user.Role is "citizen" or "carer";
        if (ScopeRules.Refusal(scopes, await clients.AllowedScopesAsync(application, context.RequestAborted), forSystem: false, patientOnly: citizen) is { } problem)
        {
            return Refuse(Errors.InvalidScope, problem);
        }

        string? patient = null;
        if (request["launch"]?.ToString() is { Length: > 0 } launchId)
        {
            var launch = await FindLaunchAsync(store, launchId, user.Id, clock, context.RequestAborted);
            if (launch is null)
            {
                return Refuse(Errors.InvalidRequest, "The launch id is unknown, expired, or was made for another user; relaunch the app from your system.");
            }

            patient = launch.PatientId;
        }
        else if (scopes.Contains("launch"))
        {
            return Refuse(Errors.InvalidRequest, "The launch scope asks for an EHR launch: pass the launch parameter the EHR gave the app.");
        }
        else if (citizen)
        {
            patient = user.PatientId;
        }
        else if (scopes.Contains("launch/patient") || scopes.Any(s => s.StartsWith("patient/", StringComparison.Ordinal)))
        {
            var picked = context.Request.Query[PickedLaunchParameter].ToString();
            var launch = picked.Length > 0 ? await FindLaunchAsync(store, picked, user.Id, clock, context.RequestAborted) : null;
            if (launch is null)
            {
                var returnTo = QueryHelpers.RemoveParameter(here, PickedLaunchParameter);
                return Results.Redirect("/auth/patient?returnUrl=" + Uri.EscapeDataString(returnTo));
            }

            patient = launch.PatientId;
        }

        var identity = new ClaimsIdentity(UserClaims(user), TokenValidationParameters.DefaultAuthenticationType, Claims.Name, Claims.Role);
        if (patient is not null)
        {
            identity.AddClaim(new Claim(TesseraClaims.Patient, patient));
        }

        identity.SetClaim(TesseraClaims.ClientId, request.ClientId);
        identity.SetScopes(scopes);
        identity.SetResources(options.Value.Audience);
        identity.SetDestinations(TokenEndpoint.Destinations);
        return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    /// <summary>The claims a person's tokens carry (conventions: sub, name, fhirUser, tessera_role, tessera_org, ...).</summary>
    /// <summary>The signed-in user as the audit names them.</summary>
    public static ClaimsPrincipal UserPrincipal(UserAccount user) => new(new ClaimsIdentity(UserClaims(user), SignInScheme));

    public static IEnumerable<Claim> UserClaims(UserAccount user)
    {
        yield return new Claim(TesseraClaims.Subject, user.Id);
        yield return new Claim(TesseraClaims.Name, user.DisplayName ?? user.UserName);
        yield return new Claim(Claims.PreferredUsername, user.UserName);
        yield return new Claim(TesseraClaims.FhirUser, user.FhirUser);
        yield return new Claim(TesseraClaims.Role, user.Role);
        if (user.Organization is not null)
        {
            yield return new Claim(TesseraClaims.Organization, user.Organization);
        }

        if (user.PractitionerRole is not null)
        {
            yield return new Claim(TesseraClaims.PractitionerRole, user.PractitionerRole);
        }
    }
}

/// <summary>Small query-string helpers for the authorization redirects.</summary>
internal static class QueryHelpers
{
    public static string RemoveParameter(string url, string name)
    {
        var q = url.IndexOf('?', StringComparison.Ordinal);
        if (q < 0)
        {
            return url;
        }

        var kept = url[(q + 1)..].Split('&').Where(p => !p.StartsWith(name + "=", StringComparison.Ordinal));
        return url[..q] + "?" + string.Join('&', kept);
    }
}
