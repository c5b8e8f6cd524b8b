using System.Diagnostics;
using System.Globalization;
using Tessera.Bench.Matching;
using Tessera.Identity.Matching;

// Whole-engine timing: train, deduplicate N synthetic records, then time single $match queries.
// Usage: dotnet run -c Release -- [records=100000] [queries=2000]
var size = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var queries = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2_000;

var population = new SyntheticPopulation(seed: 42);
var clock = Stopwatch.StartNew();
var records = population.Generate(size, duplicateShare: 0.2);
Report($"generated {records.Count:N0} records", clock);

clock.Restart();
var model = MatchEngine.Train(records);
Report($"trained: lambda {model.Lambda:0.0000}, {model.Training!.CandidatePairs:N0} candidate pairs, EM {model.Training.EmIterations} iterations", clock);

var engine = new MatchEngine(model);
clock.Restart();
var result = engine.Deduplicate(records);
Report($"deduplicated: {result.Blocking.CandidatePairs:N0} pairs compared, {result.Pairs.Count:N0} above review, {result.Clusters.Count:N0} clusters, {result.RefusedLinks.Count:N0} refused by the NHS number guard, {result.Blocking.OversizedBlocksSkipped:N0} oversized blocks skipped", clock);

clock.Restart();
var index = engine.CreateIndex(records);
Report("index built", clock);

var timings = new double[queries];
var found = 0;
for (var q = 0; q < queries; q++)
{
    var query = population.Corrupt(records[(q * 7919) % records.Count]) with { RecordId = $"q{q}" };
    var start = Stopwatch.GetTimestamp();
    var matches = engine.Match(query, index, maxResults: 5);
    timings[q] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    found += matches.Count > 0 ? 1 : 0;
}

Array.Sort(timings);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"match: {queries:N0} queries, p50 {timings[queries / 2]:0.000} ms, p95 {timings[(int)(queries * 0.95)]:0.000} ms, max {timings[^1]:0.000} ms, {found:N0} with a candidate"));
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}");

static void Report(string what, Stopwatch clock) =>
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{clock.Elapsed.TotalSeconds,8:0.00} s  {what}"));
