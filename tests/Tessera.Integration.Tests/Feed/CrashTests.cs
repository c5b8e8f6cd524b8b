using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;
using Tessera.Integration.Mllp;
using Tessera.Integration.Pipeline;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Integration.Tests.Feed;

/// <summary>
/// The real <c>tessera serve --mllp</c> as a child process, killed with SIGKILL while messages stream in on several
/// connections. After a restart, every message that got an AA is stored exactly once, and processed exactly once.
/// </summary>
public sealed class CrashTests
{
    private const int Senders = 4;

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task Every_acknowledged_message_survives_kill_9_exactly_once(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        var database = backend == "sqlite" ? "sqlite:" + SqlitePath(db.Location) : db.Location.ConnectionString;
        var run = Messages.NewId("K");
        var acknowledged = new ConcurrentDictionary<string, string>();
        var sent = new ConcurrentDictionary<string, string>();

        var port = FreePort();
        using (var server = await ServerProcess.StartAsync(database, port))
        {
            using var streaming = new CancellationTokenSource();
            var senders = Enumerable.Range(0, Senders).Select(c => System.Threading.Tasks.Task.Run(() => StreamAsync(port, run, c, sent, acknowledged, streaming.Token))).ToList();

            // Kill part-way: once some messages were acknowledged and while every sender is still sending.
            while (acknowledged.Count < 40)
            {
                Assert.False(server.HasExited, server.Output);
                await System.Threading.Tasks.Task.Delay(20);
            }

            server.Kill();
            await System.Threading.Tasks.Task.WhenAll(senders);
        }

        Assert.True(sent.Count > acknowledged.Count, "the server was killed before every sent message was acknowledged");

        // A restarted server: a sender resends every message it has no AA for; some resend acknowledged ones too.
        port = FreePort();
        using (var server = await ServerProcess.StartAsync(database, port))
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", port);
            foreach (var (control, text) in sent.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                if (!acknowledged.ContainsKey(control) || control.EndsWith('0'))
                {
                    var ack = Hl7Message.Parse(await client.SendAsync(Encoding.UTF8.GetBytes(text)), Hl7ParseOptions.Lenient);
                    Assert.Equal("AA", ack.Get("MSA-1"));
                }
            }

            await using var store = await FhirStore.OpenAsync(db.Location);
            var deadline = DateTime.UtcNow.AddSeconds(120);
            while ((await Hl7Admin.CountsAsync(store))["pending"] > 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the restarted server did not process its inbox: " + server.Output);
                await System.Threading.Tasks.Task.Delay(100);
            }

            server.Kill();
            var counts = await Hl7Admin.CountsAsync(store);
            Assert.Equal((0L, (long)sent.Count, 0L), (counts["pending"], counts["done"], counts["dead"]));
            foreach (var control in sent.Keys)
            {
                var mrn = control.Replace("-C", "-M", StringComparison.Ordinal);
                var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"Patient?identifier={Messages.PatientSystem}|{mrn}&_revinclude=Provenance:target"));
                var entries = ((Bundle)response.Resource!).Entry;
                Assert.Single(entries, e => e.Resource is Patient);
                Assert.Single(entries, e => e.Resource is Provenance);
            }
        }
    }

    private static async System.Threading.Tasks.Task StreamAsync(int port, string run, int sender, ConcurrentDictionary<string, string> sent, ConcurrentDictionary<string, string> acknowledged, CancellationToken ct)
    {
        try
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", port, new MllpClientOptions { AckTimeout = TimeSpan.FromSeconds(60) }, ct);
            for (var i = 0; !ct.IsCancellationRequested; i++)
            {
                var control = $"{run}-{sender}-{i}-C";
                var text = Messages.Adt("A04", control, control.Replace("-C", "-M", StringComparison.Ordinal));
                sent[control] = text;
                var ack = Hl7Message.Parse(await client.SendAsync(Encoding.UTF8.GetBytes(text), ct), Hl7ParseOptions.Lenient);
                Assert.Equal("AA", ack.Get("MSA-1"));
                acknowledged[control] = text;
            }
        }
        catch (Exception e) when (e is IOException or SocketException or TimeoutException or OperationCanceledException)
        {
            // The server died: whatever was not acknowledged is the sender's to resend.
        }
    }

    private static string SqlitePath(RecordStore.Storage.DatabaseLocation location) =>
        location.ConnectionString.Split(';')[0]["Data Source=".Length..];

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>The built `tessera` command running `serve --mllp` on a database, with the test source configured.</summary>
    private sealed class ServerProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        private ServerProcess(Process process)
        {
            _process = process;
        }

        public bool HasExited => _process.HasExited;

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public static async Task<ServerProcess> StartAsync(string database, int port)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                ArgumentList = { CliPath(), "serve", "--no-demo", "--db", database, "--urls", "http://127.0.0.1:0", "--mllp", port.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            var source = Messages.Source;
            start.Environment["Tessera__Hl7__Sources__0__Application"] = source.Application;
            start.Environment["Tessera__Hl7__Sources__0__Facility"] = source.Facility;
            start.Environment["Tessera__Hl7__Sources__0__OdsCode"] = source.OdsCode;
            start.Environment["Tessera__Hl7__Sources__0__IdentifierSystem"] = source.IdentifierSystem;
            start.Environment.Remove("TESSERA_DB");
            var server = new ServerProcess(Process.Start(start)!);
            server._process.OutputDataReceived += (_, e) => server.Append(e.Data);
            server._process.ErrorDataReceived += (_, e) => server.Append(e.Data);
            server._process.BeginOutputReadLine();
            server._process.BeginErrorReadLine();

            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (true)
            {
                Assert.False(server.HasExited, "tessera serve exited: " + server.Output);
                Assert.True(DateTime.UtcNow < deadline, "tessera serve did not open its MLLP port: " + server.Output);
                try
                {
                    using var probe = new TcpClient();
                    await probe.ConnectAsync(IPAddress.Loopback, port);
                    return server;
                }
                catch (SocketException)
                {
                    await System.Threading.Tasks.Task.Delay(100);
                }
            }
        }

        /// <summary>SIGKILL: no shutdown code runs.</summary>
        public void Kill()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_output)
                {
                    _output.AppendLine(line);
                }
            }
        }

        private static string CliPath()
        {
            // tests/Tessera.Integration.Tests/bin/<Configuration>/<framework>/ → src/Tessera.Cli/bin/<Configuration>/<framework>/tessera.dll
            var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var framework = here.Name;
            var configuration = here.Parent!.Name;
            var root = here;
            while (root is not null && !File.Exists(Path.Combine(root.FullName, "Tessera.slnx")))
            {
                root = root.Parent;
            }

            var cli = Path.Combine(root!.FullName, "src", "Tessera.Cli", "bin", configuration, framework, "tessera.dll");
            Assert.True(File.Exists(cli), $"Build the command first: {cli} is missing.");
            return cli;
        }
    }
}
