using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.Extensions.DependencyInjection;
using Tessera.Web.Auth;
using Tessera.Web.Tests.Infrastructure;

namespace Tessera.Web.Tests.Auth;

/// <summary>
/// A person's browser and an app going through the authorization code flow with PKCE against the real host:
/// authorize, the sign-in form (with its antiforgery token), the patient picker, the redirect with the code.
/// </summary>
internal sealed partial class SignInFlow : IDisposable
{
    public const string RedirectUri = "https://app.example/callback";
    private readonly HttpClient _browser;
    private readonly TesseraHost _host;

    public SignInFlow(TesseraHost host)
    {
        _host = host;
        _browser = new HttpClient(new CookieContainerHandler { InnerHandler = host.Server.CreateHandler() }) { BaseAddress = new Uri("http://localhost") };
    }

    public string Verifier { get; } = Base64Url(RandomNumberGenerator.GetBytes(32));

    public string Challenge => Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(Verifier)));

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryToken();

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public string AuthorizeUrl(string clientId, string scope, string? launch = null, string aud = "http://localhost/fhir") =>
        $"/auth/authorize?response_type=code&client_id={clientId}&redirect_uri={Uri.EscapeDataString(RedirectUri)}&scope={Uri.EscapeDataString(scope)}&state=st-123&code_challenge={Challenge}&code_challenge_method=S256&aud={Uri.EscapeDataString(aud)}"
        + (launch is null ? string.Empty : $"&launch={launch}");

    public async Task<HttpResponseMessage> GetAsync(string url) => await _browser.GetAsync(url);

    /// <summary>Follows redirects inside Tessera, signing in and picking a patient when asked; returns the redirect to the app.</summary>
    public async Task<Uri> AuthorizeAsync(string url, string userName, string password, string? pickPatient = null, string? pickQuery = null)
    {
        for (var hop = 0; hop < 10; hop++)
        {
            using var response = await _browser.GetAsync(url);
            Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"{url}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            var location = response.Headers.Location!;
            if (location.IsAbsoluteUri && location.Host != "localhost")
            {
                return location;
            }

            var path = location.OriginalString;
            if (path.StartsWith("/auth/signin", StringComparison.Ordinal))
            {
                url = await PostFormAsync(path, new() { ["username"] = userName, ["password"] = password });
            }
            else if (path.StartsWith("/auth/patient", StringComparison.Ordinal))
            {
                Assert.NotNull(pickPatient);
                url = await PostFormAsync(path + "&q=" + Uri.EscapeDataString(pickQuery!), new() { ["patient"] = pickPatient! });
            }
            else
            {
                url = path;
            }
        }

        throw new InvalidOperationException("Too many redirects.");
    }

    /// <summary>Loads a form page, then posts it with its antiforgery token and returnUrl; returns where it redirects.</summary>
    public async Task<string> PostFormAsync(string pageUrl, Dictionary<string, string> fields)
    {
        var page = await _browser.GetStringAsync(pageUrl);
        var match = AntiforgeryToken().Match(page);
        Assert.True(match.Success, $"{pageUrl} has no form to post: {page}");
        var token = WebUtility.HtmlDecode(match.Groups[1].Value);
        var returnUrl = WebUtility.HtmlDecode(Regex.Match(page, "name=\"returnUrl\" value=\"([^\"]*)\"").Groups[1].Value);
        fields["__RequestVerificationToken"] = token;
        fields["returnUrl"] = returnUrl;
        var action = pageUrl.Split('?')[0];
        using var response = await _browser.PostAsync(action, new FormUrlEncodedContent(fields));
        Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"POST {action}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return response.Headers.Location!.OriginalString;
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"([^\"]+)\" value=\"([^\"]*)\">")]
    private static partial Regex HiddenInput();

    /// <summary>Loads a form page and posts every hidden field of it (with <paramref name="fields"/>) to its action, as a browser would.</summary>
    public async Task<HttpResponseMessage> SubmitPageAsync(string pageUrl, Dictionary<string, string> fields)
    {
        var page = await _browser.GetStringAsync(pageUrl);
        foreach (Match hidden in HiddenInput().Matches(page))
        {
            fields.TryAdd(WebUtility.HtmlDecode(hidden.Groups[1].Value), WebUtility.HtmlDecode(hidden.Groups[2].Value));
        }

        var action = WebUtility.HtmlDecode(Regex.Match(page, "<form method=\"post\" action=\"([^\"]+)\"").Groups[1].Value);
        return await _browser.PostAsync(action, new FormUrlEncodedContent(fields));
    }

    public static string QueryValue(Uri uri, string name) =>
        uri.Query.TrimStart('?').Split('&').Select(p => p.Split('=', 2)).Where(p => p[0] == name).Select(p => Uri.UnescapeDataString(p[1])).FirstOrDefault()
        ?? throw new InvalidOperationException($"{name} is missing from {uri}");

    public async Task<(HttpStatusCode Status, JsonElement Body)> TokenAsync(Dictionary<string, string> form)
    {
        using var response = await _host.Anonymous.PostAsync("/auth/token", new FormUrlEncodedContent(form));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    public Task<(HttpStatusCode Status, JsonElement Body)> RedeemAsync(string clientId, string code, string? verifier = null, string? secret = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = clientId,
            ["code"] = code,
            ["redirect_uri"] = RedirectUri,
            ["code_verifier"] = verifier ?? Verifier,
        };
        if (secret is not null)
        {
            form["client_secret"] = secret;
        }

        return TokenAsync(form);
    }

    public static async Task AddUserAsync(TesseraHost host, NewUser user, string password)
    {
        await host.Services.GetRequiredService<UserAccounts>().AddAsync(user, password, default);
    }

    public void Dispose() => _browser.Dispose();
}
