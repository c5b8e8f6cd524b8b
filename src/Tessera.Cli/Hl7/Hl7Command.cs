using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Spectre.Console;
using Tessera.Governance;
using Tessera.Identity.Index;
using Tessera.Integration.Hl7;
using Tessera.Integration.Inbox;
using Tessera.Integration.Mllp;
using Tessera.Integration.Pipeline;
using Tessera.RecordStore;

namespace Tessera.Cli.Hl7;

/// <summary><c>tessera hl7</c>: send messages over MLLP, see the inbox, replay dead letters.</summary>
internal static class Hl7Command
{
    public static Command Create() => new("hl7", "HL7 v2: send messages over MLLP, see the inbox and its dead letters, replay them after a fix.")
    {
        SendCommand(),
        LoadCommand(),
        StatusCommand(),
        ReplayCommand(),
    };

    private static Command SendCommand()
    {
        var paths = new Argument<string[]>("paths") { Description = "Files or folders of ER7 messages (.hl7, .txt, .er7, .msg): a message, several, or an HL7 batch file (FHS/BHS … BTS/FTS).", Arity = ArgumentArity.OneOrMore };
        var to = new Option<string>("--to") { Description = "The MLLP receiver as host:port.", Required = true };
        var tls = new Option<bool>("--tls") { Description = "Connect with TLS." };
        var insecure = new Option<bool>("--insecure") { Description = "With --tls, accept any server certificate (testing only)." };
        var command = new Command("send", "Send HL7 v2 messages over MLLP, one at a time (a batch file's messages each on their own, its BTS/FTS counts checked first), printing each acknowledgement and a summary.") { paths, to, tls, insecure };
        command.SetAction(async (parse, ct) =>
        {
            var target = parse.GetValue(to)!;
            var colon = target.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(target[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                AnsiConsole.MarkupLineInterpolated($"[red]--to '{target}'[/] is not host:port, e.g. --to localhost:2575.");
                return 2;
            }

            var messages = Hl7Files.Read(parse.GetValue(paths) ?? [], out var problems);
            foreach (var problem in problems)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{problem}[/]");
            }

            if (messages.Count == 0)
            {
                AnsiConsole.MarkupLine("[red]Nothing to send:[/] name files or folders holding ER7 messages that start with MSH.");
                return 2;
            }

            var options = new MllpClientOptions { UseTls = parse.GetValue(tls) };
            if (parse.GetValue(insecure))
            {
                options.ServerCertificateValidation = (_, _, _, _) => true;
            }

            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            try
            {
                await using var client = await MllpClient.ConnectAsync(target[..colon], port, options, ct);
                foreach (var (origin, text) in messages)
                {
                    var ack = Hl7Message.Parse(await client.SendAsync(System.Text.Encoding.UTF8.GetBytes(text), ct), Hl7ParseOptions.Lenient);
                    var code = ack.Get("MSA-1") ?? "?";
                    counts[code] = counts.GetValueOrDefault(code) + 1;
                    var colour = code is "AA" or "CA" ? "green" : "red";
                    AnsiConsole.MarkupLineInterpolated($"[{colour}]{code}[/] {origin} {ack.Get("MSA-2")} {ack.Get("MSA-3") ?? string.Empty}");
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or TimeoutException or System.Security.Authentication.AuthenticationException)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]Sending to {target} failed:[/] {e.Message} — check that the receiver is running (tessera serve --mllp {port}) and reachable.");
                PrintSummary(counts, messages.Count);
                return 2;
            }

            PrintSummary(counts, messages.Count);
            if (problems.Count > 0)
            {
                AnsiConsole.MarkupLine("[red]Some files did not add up[/] (see above): what was there was sent; ask the sender for the missing messages.");
            }

            return counts.Keys.All(k => k is "AA" or "CA") && problems.Count == 0 ? 0 : 1;
        });
        return command;
    }

    private static Command StatusCommand()
    {
        var db = CommonOptions.Database();
        var command = new Command("status", "Count the stored HL7 messages by state and list the dead letters with their reasons.") { db };
        command.SetAction(async (parse, ct) =>
        {
            await using var store = await FhirStore.OpenAsync(CommonOptions.Resolve(parse.GetValue(db)), ct: ct);
            var counts = await Hl7Admin.CountsAsync(store, ct);
            AnsiConsole.MarkupLineInterpolated($"Inbox: {counts["pending"]} pending, {counts["done"]} done, {counts["dead"]} dead.");
            var dead = await Hl7Admin.DeadLettersAsync(store, 200, ct);
            if (dead.Count > 0)
            {
                PrintMessages("Dead letters (replay with tessera hl7 replay [--id N] after fixing the cause)", dead);
            }

            return 0;
        });
        return command;
    }

    private static Command ReplayCommand()
    {
        var db = CommonOptions.Database();
        var id = new Option<long?>("--id") { Description = "Replay only this dead letter (its inbox id, as tessera hl7 status lists it)." };
        var command = new Command("replay", "Process dead letters again (all, or one), after the cause was fixed; prints each one's new state.") { db, id };
        command.SetAction(async (parse, ct) =>
        {
            await using var store = await FhirStore.OpenAsync(CommonOptions.Resolve(parse.GetValue(db)), ct: ct);
            await using var governance = await store.AddGovernanceAsync(ct: ct);
            var options = FeedOptions();
            try
            {
                var replayed = await Hl7Admin.ReplayAsync(store, options, parse.GetValue(id), ct: ct);
                if (replayed.Count == 0)
                {
                    AnsiConsole.MarkupLine("There are no dead letters to replay.");
                    return 0;
                }

                PrintMessages("Replayed", replayed);
                return replayed.All(m => m.State == "done") ? 0 : 1;
            }
            catch (InvalidOperationException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 2;
            }
        });
        return command;
    }

    private static Command LoadCommand()
    {
        var paths = new Argument<string[]>("paths") { Description = "Files or folders of ER7 messages or HL7 batch files (FHS/BHS … BTS/FTS).", Arity = ArgumentArity.OneOrMore };
        var db = CommonOptions.Database();
        var process = new Option<bool>("--process") { Description = "Also map and write them to the record now (otherwise a running server's pipeline does)." };
        var command = new Command(
            "load",
            "Store HL7 v2 messages and batch files straight into the inbox, as if received over MLLP: each message durably stored and acknowledged on its own (printed), a batch's counts checked against BTS/FTS, a control id already received not stored again.")
        { paths, db, process };
        command.SetAction(async (parse, ct) =>
        {
            var files = Hl7Files.Expand(parse.GetValue(paths) ?? [], out var problems);
            foreach (var problem in problems)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{problem}[/]");
            }

            if (files.Count == 0)
            {
                AnsiConsole.MarkupLine("[red]Nothing to load:[/] name files or folders holding ER7 messages or HL7 batch files.");
                return 2;
            }

            await using var store = await FhirStore.OpenAsync(CommonOptions.Resolve(parse.GetValue(db)), ct: ct);
            await using var governance = await store.AddGovernanceAsync(ct: ct);
            await store.AddIdentityAsync(ct: ct);
            var options = FeedOptions();
            (options.Port, options.RunPipeline) = (null, false);
            await using var feed = await Hl7Feed.StartAsync(store, options, ct: ct);
            var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
            var total = 0;
            var incomplete = 0;
            foreach (var file in files)
            {
                var (batch, acks) = await feed.AcceptFileAsync(await File.ReadAllTextAsync(file, ct), file, ct);
                total += batch.Messages.Count;
                foreach (var problem in batch.Problems)
                {
                    AnsiConsole.MarkupLineInterpolated($"[red]{file}: {problem}[/]");
                }

                incomplete += batch.Problems.Count > 0 ? 1 : 0;
                for (var i = 0; i < acks.Count; i++)
                {
                    var code = acks[i].Get("MSA-1") ?? "?";
                    counts[code] = counts.GetValueOrDefault(code) + 1;
                    AnsiConsole.MarkupLineInterpolated($"[{(code is "AA" or "CA" ? "green" : "red")}]{code}[/] {file}#{i + 1} {acks[i].Get("MSA-2")} {acks[i].Get("MSA-3") ?? string.Empty}");
                }
            }

            PrintSummary(counts, total);
            if (parse.GetValue(process))
            {
                var processed = await feed.ProcessPendingAsync(ct);
                AnsiConsole.MarkupLineInterpolated($"Processed {processed} pending message(s); tessera hl7 status lists any dead letters.");
            }

            if (incomplete > 0)
            {
                AnsiConsole.MarkupLineInterpolated($"[red]{incomplete} file(s) did not add up[/] (see above): their messages were stored; ask the sender for what is missing.");
            }

            return counts.Keys.All(k => k is "AA" or "CA") && incomplete == 0 && problems.Count == 0 ? 0 : 1;
        });
        return command;
    }

    /// <summary>Tessera:Hl7 from appsettings.json in the current directory and the environment, as the server reads it.</summary>
    private static Hl7FeedOptions FeedOptions()
    {
        var options = new Hl7FeedOptions();
        new ConfigurationBuilder().AddJsonFile(Path.Combine(Environment.CurrentDirectory, "appsettings.json"), optional: true).AddEnvironmentVariables().Build()
            .GetSection(Hl7FeedOptions.Section).Bind(options);
        return options;
    }

    private static void PrintMessages(string title, IReadOnlyList<Hl7InboxMessage> messages)
    {
        var table = new Table().Title(title).AddColumns("id", "received", "source", "event", "control id", "state", "reason");
        foreach (var m in messages)
        {
            table.AddRow(
                m.Id.ToString(CultureInfo.InvariantCulture),
                m.ReceivedAt.ToString("u", CultureInfo.InvariantCulture),
                Markup.Escape(m.Source),
                Markup.Escape(m.Event),
                Markup.Escape(m.ControlId),
                m.State == "done" ? "[green]done[/]" : $"[red]{Markup.Escape(m.State)}[/]",
                Markup.Escape(m.Error ?? string.Empty));
        }

        AnsiConsole.Write(table);
    }

    private static void PrintSummary(SortedDictionary<string, int> counts, int total)
    {
        var table = new Table().Title("Acknowledgements").AddColumns("code", "messages");
        foreach (var (code, n) in counts)
        {
            table.AddRow(code, n.ToString(CultureInfo.InvariantCulture));
        }

        table.AddRow("[grey]not acknowledged[/]", (total - counts.Values.Sum()).ToString(CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
    }
}

/// <summary>Reads ER7 files: single messages, several one after another, or HL7 batch files (FHS/BHS … BTS/FTS).</summary>
internal static class Hl7Files
{
    private static readonly string[] Extensions = [".hl7", ".txt", ".er7", ".msg"];

    /// <summary>The files named, and the message files inside the folders named, in name order.</summary>
    public static List<string> Expand(IEnumerable<string> paths, out List<string> problems)
    {
        problems = [];
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path))
            {
                files.Add(path);
            }
            else if (Directory.Exists(path))
            {
                files.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal));
            }
            else
            {
                problems.Add($"Not found: {path} — give an existing file or folder.");
            }
        }

        return files;
    }

    /// <summary>Every message of the files, each named file#n; a batch whose counts do not add up is reported in problems.</summary>
    public static List<(string Origin, string Text)> Read(IEnumerable<string> paths, out List<string> problems)
    {
        var files = Expand(paths, out problems);
        var messages = new List<(string, string)>();
        foreach (var file in files)
        {
            var batch = Hl7Batch.Split(File.ReadAllText(file));
            problems.AddRange(batch.Problems.Select(p => $"{file}: {p}"));
            if (batch.Messages.Count == 0)
            {
                problems.Add($"{file} holds no message starting with MSH; skipped.");
            }

            messages.AddRange(batch.Messages.Select((m, i) => ($"{file}#{i + 1}", m)));
        }

        return messages;
    }
}
