using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Tessera.Demo;
using Tessera.Demo.Loading;
using Tessera.Governance;
using Tessera.Identity.Index;
using Tessera.RecordStore;
using Tessera.RecordStore.Storage;

namespace Tessera.Cli.Demo;

/// <summary><c>tessera demo</c>: generates the synthetic region and loads it, or writes it to files with --out.</summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var patients = new Option<int>("--patients") { Description = "How many people the region has.", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "The random seed: the same seed gives the same region.", DefaultValueFactory = _ => 42 };
        var db = CommonOptions.Database();
        var output = new Option<string?>("--out") { Description = "Write transaction bundles, NDJSON and truth.csv to this folder instead of loading the store." };
        var format = new Option<RegionOutput>("--format") { Description = "With --out: Bundles, Ndjson or Both.", DefaultValueFactory = _ => RegionOutput.Both };
        var noMatch = new Option<bool>("--no-match") { Description = "Do not match the loaded Patients in the master patient index now; a server's index does it when it starts." };
        var command = new Command("demo", "Generate a synthetic health and social care region (organisations, people, histories) and load it.") { patients, seed, db, output, format, noMatch };
        command.SetAction(async (parse, ct) =>
        {
            var count = parse.GetValue(patients);
            if (count < 0 || count > RegionGenerator.MaxPatients)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]--patients must be between 0 and {RegionGenerator.MaxPatients}.[/]");
                return 2;
            }

            var generator = new RegionGenerator(new RegionOptions { Patients = count, Seed = parse.GetValue(seed) });
            if (parse.GetValue(output) is { Length: > 0 } dir)
            {
                RegionWriteSummary written = null!;
                await Progress($"Writing {count} people to {dir}", count, async p => written = await RegionWriter.WriteAsync(generator, dir, p, parse.GetValue(format), ct));
                var table = new Table().Title("Demo region written").AddColumns("What", "Count");
                table.AddRow("Organisation bundles", written.OrganisationBundles.ToString(System.Globalization.CultureInfo.InvariantCulture));
                table.AddRow("People", written.People.ToString(System.Globalization.CultureInfo.InvariantCulture));
                table.AddRow("Source Patient records", written.SourcePatients.ToString(System.Globalization.CultureInfo.InvariantCulture));
                table.AddRow("Resources", written.Resources.ToString(System.Globalization.CultureInfo.InvariantCulture));
                table.AddRow("Megabytes written", (written.Bytes / 1_000_000).ToString(System.Globalization.CultureInfo.InvariantCulture));
                table.AddRow("Resources per second", (written.Resources / Math.Max(0.001, written.Elapsed.TotalSeconds)).ToString("N0", System.Globalization.CultureInfo.InvariantCulture));
                table.AddRow("Time", written.Elapsed.ToString(@"hh\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture));
                AnsiConsole.Write(table);
                return 0;
            }

            DatabaseLocation location;
            try
            {
                location = CommonOptions.Resolve(parse.GetValue(db));
            }
            catch (FormatException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 2;
            }

            await using var store = await FhirStore.OpenAsync(location, ct: ct);
            // Governance keeps its index of care relationships and consents from every write, also these.
            await using var governance = await store.AddGovernanceAsync(ct: ct);
            var summary = await LoadAsync(store, generator, !parse.GetValue(noMatch), ct);
            return summary.FailedBundles > 0 ? 1 : 0;
        });
        return command;
    }

    /// <summary>
    /// Loads a region with a progress bar and prints a summary table with the time per stage. With
    /// <paramref name="match"/> the master patient index then matches every loaded Patient (as a running server's
    /// index does in the background).
    /// </summary>
    public static async Task<RegionLoadSummary> LoadAsync(FhirStore store, RegionGenerator generator, bool match, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        RegionLoadSummary summary = null!;
        await Progress($"Loading {generator.Options.Patients} people into {store.Location.Describe()}", generator.Options.Patients, async p => summary = await RegionLoader.LoadAsync(store, generator, p, ct));
        var loaded = clock.Elapsed;
        TimeSpan? matching = null;
        var matched = 0;
        if (match)
        {
            var started = clock.Elapsed;
            var index = await store.AddIdentityAsync(ct: ct);
            await AnsiConsole.Status().StartAsync("Matching the loaded Patients in the master patient index", async _ => matched = await index.CatchUpAsync(ct));
            matching = clock.Elapsed - started;
        }

        var counts = await store.CountByTypeAsync(ct);
        var table = new Table().Title($"Demo region loaded in {clock.Elapsed:hh\\:mm\\:ss}").AddColumns("Resource type", "Resources");
        foreach (var (type, n) in counts.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            table.AddRow(type, n.ToString(CultureInfo.InvariantCulture));
        }

        table.AddRow("[bold]People / resources written[/]", $"[bold]{summary.People} / {summary.Resources}[/]");
        AnsiConsole.Write(table);

        var load = summary.Load;
        var stages = new Table().Title("Time per stage").AddColumns("Stage", "Time", "Resources per second");
        void Stage(string name, TimeSpan time, string note = "") =>
            stages.AddRow(name, time.ToString(@"hh\:mm\:ss\.f", CultureInfo.InvariantCulture), note.Length > 0 ? note : (summary.Resources / Math.Max(0.001, time.TotalSeconds)).ToString("N0", CultureInfo.InvariantCulture));
        Stage("Generating people (CPU)", summary.Generating);
        Stage("Preparing: references, index, JSON (CPU)", load.Preparing);
        Stage("  of which extracting index rows", load.Indexing);
        Stage("  of which serialising JSON", load.Serialising);
        Stage("Writing to the database (one writer, elapsed)", load.Writing);
        Stage("  of which the governance index", load.Observing);
        if (load.BuildingIndexes > TimeSpan.Zero)
        {
            Stage("Building the search indexes (elapsed; the store was empty)", load.BuildingIndexes);
        }

        Stage("Loading (elapsed)", loaded);
        Stage("CPU time of this process", Process.GetCurrentProcess().TotalProcessorTime);
        if (matching is { } m)
        {
            Stage("Master patient index catching up", m, $"{matched.ToString(CultureInfo.InvariantCulture)} versions read");
        }
        else
        {
            stages.AddRow("Master patient index", "-", "not run (--no-match): a server's index matches the Patients when it starts");
        }

        AnsiConsole.Write(stages);
        if (load.TransactionBundles > 0)
        {
            AnsiConsole.MarkupLineInterpolated($"{load.TransactionBundles} bundle(s) went through the normal transaction processing.");
        }

        foreach (var failure in summary.Failures.Take(10))
        {
            AnsiConsole.MarkupLineInterpolated($"[red]Refused:[/] {failure}");
        }

        return summary;
    }

    private static async Task Progress(string label, int total, Func<IProgress<int>, Task> work)
    {
        await AnsiConsole.Progress().AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var task = ctx.AddTask(label, maxValue: Math.Max(1, total));
                await work(new Progress<int>(done => task.Value = done));
                task.Value = task.MaxValue;
            });
    }
}
