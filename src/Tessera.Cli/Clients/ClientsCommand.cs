using System.CommandLine;
using Spectre.Console;
using Tessera.Cli.Users;
using Tessera.RecordStore;
using Tessera.Web.Auth;

namespace Tessera.Cli.Clients;

/// <summary><c>tessera clients add|list</c>: systems and apps that get tokens.</summary>
internal static class ClientsCommand
{
    public static Command Create() => new("clients", "Register the systems (client credentials) and apps (authorization code with PKCE) that get access tokens.") { Add(), List() };

    private static Command Add()
    {
        var id = new Option<string>("--id") { Description = "The client_id.", Required = true };
        var secret = new Option<string?>("--secret") { Description = "The client secret (stored hashed). Prefer --secret-stdin, which keeps it out of shell history." };
        var secretStdin = new Option<bool>("--secret-stdin") { Description = "Read the client secret from standard input." };
        var scopes = new Option<string[]>("--scopes") { Description = "The SMART scopes it may ask for, e.g. \"system/*.rs\" or \"openid fhirUser launch/patient patient/*.rs offline_access\".", Required = true, AllowMultipleArgumentsPerToken = true };
        var grant = new Option<string>("--grant") { Description = "client_credentials (a system) or authorization_code (an app people sign in to).", DefaultValueFactory = _ => ClientRegistry.ClientCredentials };
        grant.AcceptOnlyFromAmong(ClientRegistry.ClientCredentials, ClientRegistry.AuthorizationCode);
        var redirect = new Option<string[]>("--redirect-uri") { Description = "Where the authorization code is sent (authorization_code); may be repeated.", AllowMultipleArgumentsPerToken = true };
        var postLogout = new Option<string[]>("--post-logout-redirect-uri") { Description = "Where people may be sent back to after signing out of the app (authorization_code); may be repeated.", AllowMultipleArgumentsPerToken = true };
        var name = new Option<string?>("--name") { Description = "A display name." };
        var db = CommonOptions.Database();
        var command = new Command("add", "Register a client. Without a secret an authorization_code client is public (PKCE protects it).") { id, secret, secretStdin, scopes, grant, redirect, postLogout, name, db };
        command.SetAction(async (parse, ct) =>
        {
            var clientSecret = parse.GetValue(secretStdin) ? Secrets.Read(true, string.Empty) : parse.GetValue(secret);
            var scopeList = (parse.GetValue(scopes) ?? []).SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Distinct().ToList();
            var spec = new NewClient(parse.GetValue(id)!, string.IsNullOrEmpty(clientSecret) ? null : clientSecret, scopeList, parse.GetValue(grant)!, parse.GetValue(redirect) ?? [], parse.GetValue(name))
            {
                PostLogoutRedirectUris = parse.GetValue(postLogout) ?? [],
            };
            return await UsersCommand.WithAdministrationAsync(parse.GetValue(db), async admin =>
            {
                await admin.ClientsAsync(async clients =>
                {
                    await clients.AddAsync(spec, ct);
                    return 0;
                });
                AnsiConsole.MarkupLineInterpolated($"Registered client [bold]{spec.ClientId}[/] ({spec.Grant}; scopes {string.Join(' ', spec.Scopes)}).");
                return 0;
            }, ct);
        });
        return command;
    }

    private static Command List()
    {
        var db = CommonOptions.Database();
        var command = new Command("list", "List the registered clients (never their secrets).") { db };
        command.SetAction((parse, ct) => UsersCommand.WithAdministrationAsync(parse.GetValue(db), async admin =>
        {
            var table = new Table().AddColumns("client_id", "Name", "Type", "Grants", "Scopes", "Redirect URIs");
            foreach (var c in await admin.ClientsAsync(clients => clients.ListAsync(ct)))
            {
                table.AddRow(UsersCommand.Cells(c.ClientId, c.DisplayName, c.ClientType, string.Join(' ', c.Grants), string.Join(' ', c.Scopes), string.Join(' ', c.RedirectUris)));
            }

            AnsiConsole.Write(table);
            return 0;
        }, ct));
        return command;
    }
}
