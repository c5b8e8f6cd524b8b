using System.CommandLine;
using Spectre.Console;
using Tessera.Governance;
using Tessera.RecordStore;

namespace Tessera.Cli.Import;

/// <summary><c>tessera import</c>: loads FHIR resources, bundles and NDJSON files into the store.</summary>
internal static class ImportCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("paths") { Description = "Files or folders: .json (a resource or a Bundle) and .ndjson (one resource a line). Folders are read recursively.", Arity = ArgumentArity.OneOrMore };
        var db = CommonOptions.Database();
        var command = new Command("import", "Import FHIR R4 resources, bundles and NDJSON into the store, with a summary of what was created, updated and rejected.") { paths, db };
        command.SetAction(async (parse, ct) =>
        {
            var files = ResourceImporter.Expand(parse.GetValue(paths) ?? [], out var missing);
            foreach (var m in missing)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]Not found:[/] {m} — give an existing file or folder.");
            }

            if (files.Count == 0)
            {
                AnsiConsole.MarkupLine("[red]Nothing to import:[/] name .json or .ndjson files, or folders holding them.");
                return 2;
            }

            var location = CommonOptions.Resolve(parse.GetValue(db));
            await using var store = await FhirStore.OpenAsync(location, ct: ct);
            // Governance keeps its index of care relationships and consents from every write, also these.
            await using var governance = await store.AddGovernanceAsync(ct: ct);
            var importer = new ResourceImporter(store);
            var report = new ImportReport();
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .StartAsync(async progress =>
                {
                    var task = progress.AddTask($"Importing {files.Count} file(s) into {location.Describe()}", maxValue: Math.Max(1, files.Sum(f => new FileInfo(f).Length)));
                    await importer.ImportAsync(files, report, file => task.Increment(new FileInfo(file).Length), ct);
                    task.Value = task.MaxValue;
                });
            report.Print();
            return report.Rejected > 0 ? 1 : 0;
        });
        return command;
    }
}
