using System.Diagnostics;
using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.Bench.Matching;
using Tessera.Demo;
using Tessera.Identity.Index;
using Tessera.Identity.Matching;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Storage;

// Tools for the built-in match model (run by hand):
//   train-synthetic <records> <out.json>        train on the seeded synthetic population of bench/Tessera.Bench.Matching
//   train-demo <people> <seed> <out.json>       train on a demo region's source Patients
//   score-demo <people> <seed> [model.json]     deduplicate a demo region and score the clusters against its truth
//   rebuild <people> <seed> <database>          load a demo region's source Patients into the store (once), let the
//                                               feed match them, then time tessera mpi rebuild (twice: the second
//                                               run finds nothing to change) stage by stage
//   rebuild-bulk <people> <seed> <database> [runs]
//                                               the same at scale: a demo region's source records are written straight
//                                               into the index's table (once; the database keeps them between runs),
//                                               filed under their true people, then tessera mpi rebuild runs as the
//                                               command line runs it: wall and CPU time per stage, peak memory
//   match <database> <queries>                  Patient/$match in process against the index of rebuild-bulk: p50/p95
//                                               over realistic queries (typos, no NHS number), memory of the index
var invariant = CultureInfo.InvariantCulture;
switch (args)
{
    case ["train-synthetic", var size, var output]:
        {
            var records = new SyntheticPopulation(seed: 7).Generate(int.Parse(size, invariant), duplicateShare: 0.2);
            return await TrainAsync(records, output);
        }

    case ["train-demo", var people, var seed, var output]:
        return await TrainAsync(DemoRecords(int.Parse(people, invariant), int.Parse(seed, invariant)).Select(r => r.Record).ToList(), output);

    case ["score-demo", var people, var seed, ..] when args.Length <= 4:
        {
            var model = args.Length == 4 ? MatchModel.FromJson(await File.ReadAllTextAsync(args[3])) : MasterPatientIndex.DefaultModel();
            var demo = DemoRecords(int.Parse(people, invariant), int.Parse(seed, invariant));
            var truth = demo.ToDictionary(d => d.Record.RecordId, d => d.Person, StringComparer.Ordinal);
            var result = new MatchEngine(model).Deduplicate(demo.Select(d => d.Record).ToList());
            long truePairs = demo.GroupBy(d => d.Person).Sum(g => (long)g.Count() * (g.Count() - 1) / 2);
            long found = 0, correct = 0;
            foreach (var cluster in result.Clusters)
            {
                for (var i = 0; i < cluster.Records.Count; i++)
                {
                    for (var j = i + 1; j < cluster.Records.Count; j++)
                    {
                        found++;
                        correct += truth[cluster.Records[i].RecordId] == truth[cluster.Records[j].RecordId] ? 1 : 0;
                    }
                }
            }

            double precision = found == 0 ? 1 : correct / (double)found, recall = truePairs == 0 ? 1 : correct / (double)truePairs;
            Console.WriteLine($"{demo.Count} records of {truth.Values.Distinct().Count()} people: {found} linked pairs, precision {precision:0.0000}, recall {recall:0.0000}, F1 {2 * precision * recall / (precision + recall):0.0000}; {result.Pairs.Count(p => p.Decision == MatchDecision.Review)} sent to review");
            return 0;
        }

    case ["rebuild", var people, var seed, var database]:
        return await RebuildAsync(int.Parse(people, invariant), int.Parse(seed, invariant), database);

    case ["rebuild-bulk", var people, var seed, var database, ..] when args.Length <= 5:
        return await BulkBench.RebuildAsync(int.Parse(people, invariant), int.Parse(seed, invariant), database, args.Length == 5 ? int.Parse(args[4], invariant) : 1);

    case ["blocks", var database]:
        return await BlockingReportBench.RunAsync(database);

    case ["match", var database, var queries]:
        return await BulkBench.MatchAsync(database, int.Parse(queries, invariant));

    default:
        Console.Error.WriteLine("usage: train-synthetic <records> <out.json> | train-demo <people> <seed> <out.json> | score-demo <people> <seed> [model.json] | rebuild <people> <seed> <database> | rebuild-bulk <people> <seed> <database> [runs] | match <database> <queries>");
        return 2;
}

static List<(PersonRecord Record, string Person)> DemoRecords(int people, int seed)
{
    var generator = new RegionGenerator(new RegionOptions { Patients = people, Seed = seed });
    var records = new List<(PersonRecord, string)>();
    for (var i = 0; i < people; i++)
    {
        var bundle = generator.GeneratePerson(i);
        var patients = bundle.Bundle.Entry.Select(e => e.Resource).OfType<Patient>().ToList();
        for (var k = 0; k < patients.Count; k++)
        {
            patients[k].Id = bundle.Truth[k].SourcePatientId;
            records.Add((PatientDemographics.ToPersonRecord(patients[k]), bundle.PersonId));
        }
    }

    return records;
}

static async Task<int> TrainAsync(List<PersonRecord> records, string output)
{
    var clock = Stopwatch.StartNew();
    var model = MatchEngine.Train(records);
    await File.WriteAllTextAsync(output, model.ToJson());
    Console.WriteLine($"Trained on {records.Count} records in {clock.Elapsed.TotalSeconds:0.0} s: auto-link {model.AutoLinkThreshold:0.00} bits, review {model.ReviewThreshold:0.00} bits, lambda {model.Lambda:0.0000}, EM converged {model.Training?.EmConverged}");
    foreach (var field in model.Fields)
    {
        Console.WriteLine($"  {field.Field,-16} {string.Join("  ", field.Levels.Select(l => $"{l.Name}: {l.Weight:+0.0;-0.0}"))}");
    }

    return 0;
}

static async Task<int> RebuildAsync(int people, int seed, string database)
{
    await using var store = await FhirStore.OpenAsync(DatabaseLocation.Parse(database));
    var index = await store.AddIdentityAsync();
    var clock = Stopwatch.StartNew();
    if ((await store.CountByTypeAsync()).GetValueOrDefault("Patient") == 0)
    {
        var generator = new RegionGenerator(new RegionOptions { Patients = people, Seed = seed });
        foreach (var chunk in Enumerable.Range(0, people).Chunk(500))
        {
            await store.WriteAsync(async tx =>
            {
                foreach (var patient in chunk.SelectMany(i => generator.GeneratePerson(i).Bundle.Entry.Select(e => e.Resource).OfType<Patient>()))
                {
                    patient.Id ??= Guid.NewGuid().ToString("N");
                    await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"Patient/{patient.Id}", Resource = patient }, tx);
                }

                return 0;
            });
        }

        Console.WriteLine($"Loaded the source Patients of {people} people in {clock.Elapsed.TotalSeconds:0.0} s");
        clock.Restart();
        await index.CatchUpAsync();
        Console.WriteLine($"Feed matched them as written in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    // As the command line does: a fresh index on the store, nothing loaded in memory yet.
    index = await MasterPatientIndex.OpenAsync(store);
    for (var run = 1; run <= 2; run++)
    {
        var stages = new List<(string Stage, TimeSpan At)>();
        var started = Stopwatch.StartNew();
        var summary = await index.RebuildAsync(new StageClock(stage => stages.Add((stage, started.Elapsed))));
        Console.WriteLine($"Rebuild {run}: {summary.Records} records, {summary.Masters} people, {summary.CandidatePairs} candidate pairs, {summary.RecordsMoved} moved, {summary.MastersWritten} masters written, {summary.ReviewItemsOpened} reviews opened, {summary.Elapsed.TotalSeconds:0.0} s");
        for (var i = 0; i < stages.Count; i++)
        {
            var end = i + 1 < stages.Count ? stages[i + 1].At : summary.Elapsed;
            Console.WriteLine($"  {stages[i].Stage,-40} {(end - stages[i].At).TotalSeconds,7:0.00} s");
        }
    }

    return 0;
}

/// <summary>Notes when each stage of a rebuild starts.</summary>
internal sealed class StageClock(Action<string> started) : IProgress<RebuildProgress>
{
    private string? last;

    public void Report(RebuildProgress value)
    {
        if (value.Stage != last)
        {
            last = value.Stage;
            started(value.Stage);
        }
    }
}
