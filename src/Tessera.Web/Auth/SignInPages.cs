using System.Net;
using System.Text;
using Hl7.Fhir.Model;

namespace Tessera.Web.Auth;

/// <summary>
/// The server-rendered pages of sign-in: plain, accessible HTML (labels, error summary, focusable controls)
/// laid out after the NHS design system's sign-in pattern; no script, no external assets.
/// </summary>
internal static class SignInPages
{
    private const string Style = """
        body{font-family:Arial,Helvetica,sans-serif;font-size:19px;line-height:1.5;color:#212b32;background:#f0f4f5;margin:0}
        header{background:#005eb8;color:#fff;padding:16px 24px;font-weight:bold;font-size:24px}
        main{max-width:640px;margin:32px auto;padding:0 16px}
        .panel{background:#fff;padding:24px 32px;border-radius:4px}
        label{display:block;font-weight:bold;margin:16px 0 4px}
        input[type=text],input[type=password],input[type=search]{font-size:19px;padding:6px;width:100%;box-sizing:border-box;border:2px solid #4c6272}
        input:focus,button:focus{outline:4px solid #ffeb3b;outline-offset:0}
        button{margin-top:24px;font-size:19px;font-weight:bold;padding:10px 20px;color:#fff;background:#007f3b;border:0;border-radius:4px;box-shadow:0 4px 0 #00401e;cursor:pointer}
        .error-summary{border:4px solid #d5281b;padding:16px;margin-bottom:16px}
        .error-summary h2{margin:0 0 8px;font-size:22px}
        .hint{color:#4c6272}
        ul.patients{list-style:none;padding:0}
        ul.patients li{border-bottom:1px solid #d8dde0;padding:8px 0}
        """;

    public static string SignIn(string returnUrl, string antiforgeryField, string? error, string? userName) =>
        Page("Sign in", $"""
            {ErrorSummary(error, "username")}
            <h1>Sign in to Tessera</h1>
            <p class="hint">An app is asking to use the shared care record on your behalf.</p>
            <form method="post" action="/auth/signin" novalidate>
              {antiforgeryField}
              <input type="hidden" name="returnUrl" value="{Enc(returnUrl)}">
              <label for="username">Username</label>
              <input type="text" id="username" name="username" autocomplete="username" spellcheck="false" value="{Enc(userName ?? string.Empty)}" required>
              <label for="password">Password</label>
              <input type="password" id="password" name="password" autocomplete="current-password" required>
              <button type="submit">Sign in</button>
            </form>
            """);

    public static string PatientPicker(string returnUrl, string antiforgeryField, string? query, IReadOnlyList<Patient> patients, string? error)
    {
        var results = new StringBuilder();
        // A search that could not run (error) found nothing to list, and is not said to have matched no one.
        if (query is not null && error is null)
        {
            if (patients.Count == 0)
            {
                results.Append("<p>No patients match. Check the spelling, or search by NHS number. Only the patients whose record you may see are listed.</p>");
            }
            else
            {
                results.Append("<form method=\"post\" action=\"/auth/patient\">").Append(antiforgeryField)
                    .Append($"<input type=\"hidden\" name=\"returnUrl\" value=\"{Enc(returnUrl)}\"><fieldset><legend>Choose the patient</legend><ul class=\"patients\">");
                foreach (var p in patients)
                {
                    var name = p.Name.FirstOrDefault() is { } n ? string.Join(' ', n.Given.Append(n.Family?.ToUpperInvariant())) : "(no name)";
                    var nhs = p.Identifier.FirstOrDefault(i => i.System == "https://fhir.nhs.uk/Id/nhs-number")?.Value;
                    results.Append($"<li><input type=\"radio\" id=\"p-{Enc(p.Id)}\" name=\"patient\" value=\"{Enc(p.Id)}\"> <label style=\"display:inline\" for=\"p-{Enc(p.Id)}\">{Enc(name)}, born {Enc(p.BirthDate ?? "unknown")}{(nhs is null ? string.Empty : $", NHS number {Enc(nhs)}")}</label></li>");
                }

                results.Append("</ul></fieldset><button type=\"submit\">Open this patient's record</button></form>");
            }
        }

        return Page("Choose a patient", $"""
            {ErrorSummary(error, "q")}
            <h1>Which patient?</h1>
            <p class="hint">The app opens the shared record of the patient you choose.</p>
            <form method="get" action="/auth/patient">
              <input type="hidden" name="returnUrl" value="{Enc(returnUrl)}">
              <label for="q">Name, date of birth or NHS number</label>
              <p class="hint" id="q-hint">For example: ann smith, smith 12/03/1950, 943 476 5919</p>
              <input type="search" id="q" name="q" aria-describedby="q-hint" value="{Enc(query ?? string.Empty)}">
              <button type="submit">Search</button>
            </form>
            {results}
            """);
    }

    public static string SignOut(string? userName, string? client, IReadOnlyList<(string Name, string Value)> carried, string antiforgeryField)
    {
        var hidden = string.Concat(carried.Select(f => $"<input type=\"hidden\" name=\"{Enc(f.Name)}\" value=\"{Enc(f.Value)}\">"));
        var who = userName is null ? "<p>You are not signed in to Tessera.</p>" : $"<p>You are signed in as <strong>{Enc(userName)}</strong>.</p>";
        var app = client is null ? string.Empty : $"<p class=\"hint\">Signing out also stops {Enc(client)} from using the shared care record on your behalf until you sign in again.</p>";
        return Page("Sign out", $"""
            <h1>Sign out of Tessera</h1>
            {who}
            {app}
            <form method="post" action="/auth/signout">
              {antiforgeryField}
              {hidden}
              <p><input type="checkbox" id="everywhere" name="everywhere" value="true"> <label style="display:inline" for="everywhere">Also sign out of every other app that uses the shared care record for you</label></p>
              <button type="submit">Sign out</button>
            </form>
            """);
    }

    public static string Message(string title, string text) => Page(title, $"<h1>{Enc(title)}</h1><p>{Enc(text)}</p>");

    private static string ErrorSummary(string? error, string field) => error is null ? string.Empty : $"""
        <div class="error-summary" role="alert" tabindex="-1" aria-labelledby="error-title">
          <h2 id="error-title">There is a problem</h2>
          <p><a href="#{field}">{Enc(error)}</a></p>
        </div>
        """;

    private static string Page(string title, string body) => $"""
        <!DOCTYPE html>
        <html lang="en-GB">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{Enc(title)} – Tessera</title><style>{Style}</style></head>
        <body><header>Tessera shared care record</header><main><div class="panel">
        {body}
        </div></main></body>
        </html>
        """;

    private static string Enc(string? text) => WebUtility.HtmlEncode(text ?? string.Empty);
}
