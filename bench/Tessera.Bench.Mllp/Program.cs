using System.Diagnostics;
using System.Globalization;
using System.Text;
using Tessera.Integration.Mllp;
using Tessera.Integration.Pipeline;
using Tessera.RecordStore;
using Tessera.RecordStore.Storage;

// HL7 v2 over MLLP with durable acknowledgement: an ADT A01/A04/A08 mix sent on several connections to the
// real feed (listener, group-committed inbox, pipeline to FHIR) on the database given.
//   dotnet run -c Release --project bench/Tessera.Bench.Mllp -- "<database>" [messages] [connections] [--ack-only] [--workers=N]
if (args.Length < 1)
{
    Console.Error.WriteLine("Give the database (an empty PostgreSQL database, e.g. \"Host=127.0.0.1;Port=5432;Username=postgres;Database=bench\"), then optionally the message count, the connection count and --ack-only.");
    return 2;
}

var workers = args.FirstOrDefault(a => a.StartsWith("--workers=", StringComparison.Ordinal)) is { } w ? int.Parse(w["--workers=".Length..], CultureInfo.InvariantCulture) : (int?)null;
var numbers = args.Skip(1).Where(a => !a.StartsWith("--", StringComparison.Ordinal)).Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray();
var total = numbers.Length > 0 ? numbers[0] : 20_000;
var connections = numbers.Length > 1 ? numbers[1] : 16;
var ackOnly = args.Contains("--ack-only");
var location = DatabaseLocation.Parse(args[0]);

await using var store = await FhirStore.OpenAsync(location);
var options = new Hl7FeedOptions
{
    Port = 0,
    RunPipeline = !ackOnly,
    PipelineWorkers = workers,
    Sources = [new Hl7SourceOptions { Application = "PAS", Facility = "RXH", OdsCode = "RXH", IdentifierSystem = "https://fhir.rxh.example.nhs.uk/Id" }],
};
await using var feed = await Hl7Feed.StartAsync(store, options);
var before = await Hl7Admin.CountsAsync(store);
var port = feed.MllpEndPoint!.Port;
var run = Guid.NewGuid().ToString("N")[..8];

// Each patient gets A01 (admit), then A08 (update), or an A04 (registration): roughly one third each.
string Message(int i)
{
    var patient = i / 3;
    var (trigger, cls) = (i % 3) switch { 0 => ("A01", "I"), 1 => ("A08", "I"), _ => ("A04", "O") };
    var sb = new StringBuilder();
    sb.Append(CultureInfo.InvariantCulture, $"MSH|^~\\&|PAS|RXH|TESSERA|REGION|20260301101500||ADT^{trigger}^ADT_A01|{run}-{i}|P|2.5.1\r");
    sb.Append(CultureInfo.InvariantCulture, $"EVN|{trigger}|20260301101500\r");
    sb.Append(CultureInfo.InvariantCulture, $"PID|1||{run}P{patient}^^^RXH^MR||SURNAME{patient % 997}^GIVEN{patient % 89}^^^MR||1970{1 + (patient % 12):00}{1 + (patient % 28):00}|{(patient % 2 == 0 ? "M" : "F")}|||{patient} HIGH STREET^^LEEDS^^LS1 1AA^GBR^H\r");
    sb.Append(CultureInfo.InvariantCulture, $"PV1|1|{cls}|WARD {patient % 20}^BAY 1^BED {patient % 6}^RXH||||C1^JONES^PETER^^^DR||||||||||||{run}V{patient}|||||||||||||||||||||||||20260301100000\r");
    return sb.ToString();
}

Console.WriteLine($"{total} ADT messages (A01/A08/A04) on {connections} connections to {location.Describe()}; pipeline {(ackOnly ? "off" : $"on ({workers?.ToString(CultureInfo.InvariantCulture) ?? "default"} workers)")}; {Environment.ProcessorCount} cores");
var next = -1;
var failures = 0;
var clock = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
{
    await using var client = await MllpClient.ConnectAsync("127.0.0.1", port);
    int i;
    while ((i = Interlocked.Increment(ref next)) < total)
    {
        var ack = await client.SendAsync(Encoding.UTF8.GetBytes(Message(i)));
        if (!Encoding.ASCII.GetString(ack).Contains("MSA|AA|", StringComparison.Ordinal))
        {
            Interlocked.Increment(ref failures);
        }
    }
}));
var ackSeconds = clock.Elapsed.TotalSeconds;
Console.WriteLine($"ACK (durable): {total} in {ackSeconds:F1} s = {total / ackSeconds:F0} msg/s; {failures} not AA");

if (!ackOnly)
{
    while ((await Hl7Admin.CountsAsync(store))["pending"] > 0)
    {
        await Task.Delay(100);
    }

    var seconds = clock.Elapsed.TotalSeconds;
    var after = await Hl7Admin.CountsAsync(store);
    var processed = after["done"] + after["dead"] - before["done"] - before["dead"];
    Console.WriteLine($"End to end (stored as FHIR): {processed} in {seconds:F1} s = {processed / seconds:F0} msg/s; {after["dead"] - before["dead"]} dead letters");
}

return failures == 0 ? 0 : 1;
