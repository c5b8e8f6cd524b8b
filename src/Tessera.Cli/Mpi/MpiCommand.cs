using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Spectre.Console;
using Tessera.Governance;
using Tessera.Identity.Index;
using Tessera.Identity.Matching;
using Tessera.RecordStore;

namespace Tessera.Cli.Mpi;

/// <summary><c>tessera mpi rebuild | train</c>: re-match the whole master patient index; re-estimate its model from the data.</summary>
internal static class MpiCommand
{
    public static Command Create() => new("mpi", "The master patient index: re-match every record (rebuild), re-estimate the match weights from the data (train).")
    {
        RebuildCommand(),
        TrainCommand(),
    };

    private static Command RebuildCommand()
    {
        var db = CommonOptions.Database();
        var command = new Command(
            "rebuild",
            "Re-match the whole index from the stored source Patients with the model in use, keeping merges and stewards' decisions; prints what changed. Safe while the server runs; running it twice changes nothing the second time.")
        { db };
        command.SetAction(async (parse, ct) =>
        {
            var location = CommonOptions.Resolve(parse.GetValue(db));
            await using var store = await FhirStore.OpenAsync(location, ct: ct);
            await using var governance = await store.AddGovernanceAsync(ct: ct);
            var index = await store.AddIdentityAsync(Options(), ct: ct);
            RebuildSummary? summary = null;
            await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async progress =>
                {
                    var stages = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                    // Reported on the rebuild's own thread, in order (Progress<T> would post them later, out of order).
                    var reporter = new Reporter(p =>
                    {
                        if (!stages.TryGetValue(p.Stage, out var task))
                        {
                            task = stages[p.Stage] = progress.AddTask(p.Stage, maxValue: Math.Max(1, p.Total));
                        }

                        task.MaxValue = Math.Max(1, p.Total);
                        task.Value = p.Done;
                    });
                    summary = await index.RebuildAsync(reporter, ct);
                    foreach (var task in stages.Values)
                    {
                        task.Value = task.MaxValue;
                    }
                });

            var s = summary!;
            var table = new Table().AddColumns("index", "count");
            table.AddRow("source records", Count(s.Records));
            table.AddRow("people (masters)", Count(s.Masters));
            table.AddRow("linked automatically", Count(s.AutomaticLinks));
            table.AddRow("records moved by this rebuild", Count(s.RecordsMoved));
            table.AddRow("masters written / retired", $"{Count(s.MastersWritten)} / {Count(s.MastersRetired)}");
            table.AddRow("review items opened / open", $"{Count(s.ReviewItemsOpened)} / {Count(s.OpenReviews)}");
            table.AddRow("candidate pairs compared", Count(s.CandidatePairs));
            table.AddRow("time", $"{s.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s");
            AnsiConsole.Write(table);
            if (s.ReviewItemsOpened > 0)
            {
                AnsiConsole.MarkupLine("Open reviews: GET [[base]]/Task?code=urn:tessera:mpi|match-review&status=requested (see docs/mpi.md, the review queue).");
            }

            return 0;
        });
        return command;
    }

    private static Command TrainCommand()
    {
        var db = CommonOptions.Database();
        var apply = new Option<bool>("--apply") { Description = "Save the new weights as the model in use (servers load the newest model when they start)." };
        var command = new Command(
            "train",
            "Re-estimate the match weights from the indexed records (u from random pairs, m by EM with the match prior fixed by deterministic rules) and print them next to the model in use; --apply saves them.")
        { db, apply };
        command.SetAction(async (parse, ct) =>
        {
            await using var store = await FhirStore.OpenAsync(CommonOptions.Resolve(parse.GetValue(db)), ct: ct);
            await using var governance = await store.AddGovernanceAsync(ct: ct);
            var index = await store.AddIdentityAsync(Options(), ct: ct);
            await index.CatchUpAsync(ct);
            var records = await index.IndexedRecordsAsync(ct);
            if (records.Count < MinimumRecords)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]Only {records.Count} indexed source record(s)[/]: training needs at least {MinimumRecords} to estimate anything. Load the region's Patients first (tessera import, the HL7 feed), then train again.");
                return 2;
            }

            var current = index.Engine.Model;
            MatchModel trained = null!;
            await AnsiConsole.Status().StartAsync($"Training on {records.Count:N0} records…", _ =>
            {
                trained = MatchEngine.Train(records);
                return Task.CompletedTask;
            });

            PrintComparison(current, trained);
            var t = trained.Training!;
            AnsiConsole.MarkupLineInterpolated($"Trained on {t.Records:N0} records: {t.CandidatePairs:N0} candidate pairs, {t.DeterministicMatches:N0} deterministic matches (λ = {trained.Lambda:0.00000}), {t.RandomPairsSampled:N0} random pairs for u, EM {t.EmIterations} iterations ({(t.EmConverged ? "converged" : "[red]not converged[/]")}), m anchored on {t.NhsNumberAnchorPairs:N0} NHS-number pairs.");
            AnsiConsole.MarkupLineInterpolated($"Thresholds: auto-link {current.AutoLinkThreshold:0.00} → {trained.AutoLinkThreshold:0.00} bits, review {current.ReviewThreshold:0.00} → {trained.ReviewThreshold:0.00} bits.");
            if (!t.EmConverged)
            {
                AnsiConsole.MarkupLine("[yellow]EM did not converge:[/] check the weights before applying them.");
            }

            if (!parse.GetValue(apply))
            {
                AnsiConsole.MarkupLine("Nothing saved. Run again with --apply to use these weights, then tessera mpi rebuild to re-match existing records with them.");
                return 0;
            }

            await index.UseModelAsync(trained, ct);
            AnsiConsole.MarkupLine("[green]Saved as the model in use.[/] Restart running servers to load it, and run tessera mpi rebuild to re-match the records already linked.");
            return 0;
        });
        return command;
    }

    /// <summary>Fewest records worth training on: fewer give u and m estimates that are mostly smoothing.</summary>
    private const int MinimumRecords = 100;

    private static void PrintComparison(MatchModel current, MatchModel trained)
    {
        var table = new Table().Title("in use → new: m, u and weight (bits) per comparison level").AddColumns("field", "level", "m", "u", "weight", "m new", "u new", "weight new");
        foreach (var field in trained.Fields)
        {
            var before = current[field.Field];
            for (var l = 0; l < field.Levels.Count; l++)
            {
                var (was, now) = (before.Levels[l], field.Levels[l]);
                table.AddRow(l == 0 ? field.Field.ToString() : string.Empty, now.Name, P(was.M), P(was.U), W(was.Weight), P(now.M), P(now.U), W(now.Weight));
            }
        }

        AnsiConsole.Write(table);
    }

    private static MpiOptions Options()
    {
        var options = new MpiOptions();
        new ConfigurationBuilder().AddJsonFile(Path.Combine(Environment.CurrentDirectory, "appsettings.json"), optional: true).AddEnvironmentVariables().Build()
            .GetSection(MpiOptions.Section).Bind(options);
        return options;
    }

    private sealed class Reporter(Action<RebuildProgress> report) : IProgress<RebuildProgress>
    {
        public void Report(RebuildProgress value) => report(value);
    }

    private static string Count(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string P(double p) => p.ToString("0.00000", CultureInfo.InvariantCulture);

    private static string W(double w) => w.ToString("+0.00;-0.00;0.00", CultureInfo.InvariantCulture);
}
