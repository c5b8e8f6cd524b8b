using System.CommandLine;
using Spectre.Console;
using Tessera.Web.Auth;

namespace Tessera.Cli.Users;

/// <summary><c>tessera users add|list</c>: the people who sign in, each tied to who they are in the record.</summary>
internal static class UsersCommand
{
    public static Command Create() => new("users", "Provision the people who sign in: practitioners in a PractitionerRole, citizens, carers.") { Add(), List() };

    private static Command Add()
    {
        var userName = new Option<string>("--username") { Description = "The sign-in name.", Required = true };
        var role = new Option<string>("--role") { Description = $"One of {string.Join(", ", TesseraClaims.Roles.Where(r => r != "system"))}.", Required = true };
        var practitionerRole = new Option<string?>("--practitioner-role") { Description = "For practitioners: the PractitionerRole id (organisation and role) they act in." };
        var patient = new Option<string?>("--patient") { Description = "For citizens: their Patient id." };
        var relatedPerson = new Option<string?>("--related-person") { Description = "For carers: the RelatedPerson id the patient allowed to act for them." };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Read the password from standard input (otherwise it is asked for, without echo)." };
        var db = CommonOptions.Database();
        var command = new Command("add", "Add a user; the password is hashed and never shown.") { userName, role, practitionerRole, patient, relatedPerson, passwordStdin, db };
        command.SetAction(async (parse, ct) =>
        {
            var password = Secrets.Read(parse.GetValue(passwordStdin), "Password: ");
            return await WithAdministrationAsync(parse.GetValue(db), async admin =>
            {
                var spec = new NewUser(parse.GetValue(userName)!, parse.GetValue(role)!, parse.GetValue(practitionerRole), parse.GetValue(patient), parse.GetValue(relatedPerson));
                var user = await admin.Users.AddAsync(spec, password ?? throw new ArgumentException("No password: pipe it in with --password-stdin, or run in a terminal to be asked for it."), ct);
                AnsiConsole.MarkupLineInterpolated($"Added [bold]{user.UserName}[/] ({user.Role}, {user.FhirUser}{(user.Organization is null ? string.Empty : ", " + user.Organization)}{(user.PatientId is null ? string.Empty : ", patient " + user.PatientId)}).");
                return 0;
            }, ct);
        });
        return command;
    }

    private static Command List()
    {
        var db = CommonOptions.Database();
        var command = new Command("list", "List the users (never their passwords).") { db };
        command.SetAction((parse, ct) => WithAdministrationAsync(parse.GetValue(db), async admin =>
        {
            var table = new Table().AddColumns("Username", "Name", "Role", "fhirUser", "Organisation", "PractitionerRole", "Patient", "State");
            foreach (var u in await admin.Users.ListAsync(ct))
            {
                table.AddRow(Cells(u.UserName, u.DisplayName, u.Role, u.FhirUser, u.Organization, u.PractitionerRole, u.PatientId, u.Disabled ? "disabled" : u.IsDemo ? "demo" : "active"));
            }

            AnsiConsole.Write(table);
            return 0;
        }, ct));
        return command;
    }

    /// <summary>Opens the store and sign-in's tables for a command; a refused input prints what to fix and exits 2.</summary>
    internal static async Task<int> WithAdministrationAsync(string? db, Func<AuthAdministration, Task<int>> work, CancellationToken ct)
    {
        try
        {
            return await CommonOptions.WithExistingStoreAsync(db, async store =>
            {
                await using var admin = await AuthAdministration.OpenAsync(store, ct);
                return await work(admin);
            }, ct);
        }
        catch (ArgumentException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 2;
        }
    }

    internal static string[] Cells(params string?[] values) => [.. values.Select(v => Markup.Escape(v ?? "—"))];
}
