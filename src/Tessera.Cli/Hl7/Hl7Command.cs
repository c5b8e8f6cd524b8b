using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Spectre.Console;
using Tessera.Governance;
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
        StatusCommand(),
        ReplayCommand(),
    };

    private static Command SendCommand()
    {
        var paths = new Argument<string[]>("paths") { Description = "Files or folders of ER7 messages (.hl7, .txt, .er7); a file may hold several messages, each starting with MSH.", Arity = ArgumentArity.OneOrMore };
        var to = new Option<string>("--to") { Description = "The MLLP receiver as host:port.", Required = true };
        var tls = new Option<bool>("--tls") { Description = "Connect with TLS." };
        var insecure = new Option<bool>("--insecure") { Description = "With --tls, accept any server certificate (testing only)." };
        var command = new Command("send", "Send HL7 v2 messages over MLLP, one at a time, printing each acknowledgement and a summary.") { paths, to, tls, insecure };
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
            return counts.Keys.All(k => k is "AA" or "CA") ? 0 : 1;
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
            var options = new Hl7FeedOptions();
            new ConfigurationBuilder().AddJsonFile(Path.Combine(Environment.CurrentDirectory, "appsettings.json"), optional: true).AddEnvironmentVariables().Build()
                .GetSection(Hl7FeedOptions.Section).Bind(options);
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

/// <summary>Reads ER7 files: each message starts at a line beginning with MSH; line endings become CR.</summary>
internal static class Hl7Files
{
    private static readonly string[] Extensions = [".hl7", ".txt", ".er7", ".msg"];

    public static List<(string Origin, string Text)> Read(IEnumerable<string> paths, out List<string> problems)
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

        var messages = new List<(string, string)>();
        foreach (var file in files)
        {
            var lines = File.ReadAllText(file).Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Split('\n');
            var current = new List<string>();
            var n = 0;
            void Flush()
            {
                if (current.Count > 0)
                {
                    messages.Add(($"{file}#{++n}", string.Join('\r', current) + "\r"));
                    current.Clear();
                }
            }

            foreach (var line in lines)
            {
                if (line.StartsWith("MSH", StringComparison.Ordinal))
                {
                    Flush();
                }

                if (line.Trim().Length > 0 && (current.Count > 0 || line.StartsWith("MSH", StringComparison.Ordinal)))
                {
                    current.Add(line);
                }
            }

            Flush();
            if (n == 0)
            {
                problems.Add($"{file} holds no message starting with MSH; skipped.");
            }
        }

        return messages;
    }
}
