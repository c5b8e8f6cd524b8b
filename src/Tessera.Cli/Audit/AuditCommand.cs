using System.CommandLine;
using Spectre.Console;
using Tessera.Governance;
using Tessera.RecordStore;
using Tessera.RecordStore.Serialization;

namespace Tessera.Cli.Audit;

/// <summary><c>tessera audit verify | export</c>: checks the hash-chained audit trail; exports a person's record (subject access).</summary>
internal static class AuditCommand
{
    public static Command Create() => new("audit", "The audit trail: verify its hash chain, or export everything held about a person (subject access).")
    {
        VerifyCommand(),
        ExportCommand(),
    };

    private static Command VerifyCommand()
    {
        var db = CommonOptions.Database();
        var command = new Command("verify", "Recompute the audit trail's hash chain and report every changed or deleted row; exit code 1 when anything is wrong.") { db };
        command.SetAction((parse, ct) => CommonOptions.WithExistingStoreAsync(parse.GetValue(db), async store =>
        {
            await using var governance = await store.AddGovernanceAsync(ct: ct);
            var result = await governance.VerifyAuditAsync(ct);
            foreach (var problem in result.Problems)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]Tampered:[/] {problem.Message}");
            }

            AnsiConsole.MarkupLineInterpolated($"{result.Rows} audit rows ({result.Events} events) checked, newest position {result.LastPosition}, head hash {result.HeadHash ?? "(none)"}.");
            if (result.Pending > 0)
            {
                AnsiConsole.MarkupLineInterpolated($"{result.Pending} recent events were still being chained by a running server; run verify again to include them.");
            }

            if (!result.Intact)
            {
                AnsiConsole.MarkupLine("[red]The audit trail has been altered.[/] Restore the named rows from a backup and report it to the information governance lead.");
                return 1;
            }

            AnsiConsole.MarkupLine("[green]The audit trail is intact.[/] Keep the head hash elsewhere to detect a rewrite of the whole chain.");
            return 0;
        }, ct));
        return command;
    }

    private static Command ExportCommand()
    {
        var db = CommonOptions.Database();
        var patient = new Option<string>("--patient") { Description = "The Patient id (any record of the person).", Required = true };
        var output = new Option<string?>("--out") { Description = "Write the Bundle to this file instead of standard output." };
        var command = new Command("export", "Export everything held about a person, with the audit of access to their record, as a FHIR collection Bundle (subject access).") { patient, output, db };
        command.SetAction((parse, ct) => CommonOptions.WithExistingStoreAsync(parse.GetValue(db), async store =>
        {
            await using var governance = await store.AddGovernanceAsync(ct: ct);
            var id = parse.GetValue(patient)!.Replace("Patient/", string.Empty, StringComparison.Ordinal);
            var bundle = await governance.ExportRecordAsync(id, ct);
            if (bundle.Entry.Count == 0)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]Patient/{id} is not known[/]: give the id of one of the person's Patient records.");
                return 2;
            }

            var json = FhirSerialization.ToJson(bundle, pretty: true);
            if (parse.GetValue(output) is { Length: > 0 } file)
            {
                await File.WriteAllTextAsync(file, json, ct);
                AnsiConsole.MarkupLineInterpolated($"Wrote {bundle.Entry.Count} resources about Patient/{id} to {file}.");
            }
            else
            {
                Console.Out.Write(json);
            }

            return 0;
        }, ct));
        return command;
    }
}
