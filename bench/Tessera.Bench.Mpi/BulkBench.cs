using System.Diagnostics;
using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.Demo;
using Tessera.Identity.Index;
using Tessera.Identity.Matching;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Storage;
using Task = System.Threading.Tasks.Task;

/// <summary>
/// The master patient index at scale without loading every Patient through the FHIR API: a demo region's source
/// records go straight into the index's table, filed under their true people (as a perfect feed would have left
/// them), and the rebuild and $match then run exactly as the command line and the server run them.
/// </summary>
internal static class BulkBench
{
    public static async Task<int> RebuildAsync(int people, int seed, string database, int runs)
    {
        await using var store = await FhirStore.OpenAsync(DatabaseLocation.Parse(database));
        var index = await store.AddIdentityAsync();
        if ((await index.CountAsync()).SourceRecords == 0)
        {
            await LoadAsync(index, people, seed);
        }

        for (var run = 1; run <= runs; run++)
        {
            // As the command line does: a fresh index on the store, nothing loaded in memory yet.
            index = await MasterPatientIndex.OpenAsync(store);
            var stages = new List<(string Stage, TimeSpan At, TimeSpan Cpu)>();
            var started = Stopwatch.StartNew();
            var process = Process.GetCurrentProcess();
            var cpuStart = process.TotalProcessorTime;
            var summary = await index.RebuildAsync(new StageClock(stage => stages.Add((stage, started.Elapsed, Cpu()))));
            var cpuEnd = Cpu();
            Console.WriteLine($"Rebuild {run}: {summary.Records:N0} records, {summary.Masters:N0} people, {summary.CandidatePairs:N0} candidate pairs, {summary.RecordsMoved:N0} moved, {summary.MastersWritten:N0} masters written, {summary.MastersRetired:N0} retired, {summary.ReviewItemsOpened:N0} reviews opened; {summary.Elapsed.TotalSeconds:0.0} s wall, {(cpuEnd - cpuStart).TotalSeconds:0.0} s CPU, peak working set {PeakMegabytes():N0} MB");
            for (var i = 0; i < stages.Count; i++)
            {
                var (end, endCpu) = i + 1 < stages.Count ? (stages[i + 1].At, stages[i + 1].Cpu) : (summary.Elapsed, cpuEnd);
                Console.WriteLine($"  {stages[i].Stage,-42} {(end - stages[i].At).TotalSeconds,7:0.00} s wall {(endCpu - stages[i].Cpu).TotalSeconds,7:0.00} s CPU");
            }

            TimeSpan Cpu()
            {
                process.Refresh();
                return process.TotalProcessorTime;
            }
        }

        return 0;
    }

    /// <summary>$match through the store's operation, as a server answers it, for queries drawn from the region's people with realistic faults.</summary>
    public static async Task<int> MatchAsync(string database, int queries)
    {
        await using var store = await FhirStore.OpenAsync(DatabaseLocation.Parse(database));
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var index = await store.AddIdentityAsync();
        var counts = await index.CountAsync();
        var people = await ReadPeopleAsync(store);
        var clock = Stopwatch.StartNew();

        // The first $match loads the in-memory index.
        var rng = new Random(20261123);
        var warm = await store.ExecuteAsync(Query(QueryPatient(people, rng).Patient));
        Console.WriteLine($"Index of {counts.SourceRecords:N0} source records loaded by the first $match in {clock.Elapsed.TotalSeconds:0.0} s (status {warm.Status}); managed memory held {(GC.GetTotalMemory(forceFullCollection: true) - before) / 1048576.0:N0} MB, peak working set {PeakMegabytes():N0} MB");

        // The operation as a server answers it (the benchmark's store holds no source Patient resources, so the
        // answer's entries are empty: their reads by id are not timed), then the matcher alone, whose answer
        // says whether the record the query was drawn from was found.
        var process = Process.GetCurrentProcess();
        var drawn = Enumerable.Range(0, queries).Select(_ => QueryPatient(people, rng)).ToList();
        var operation = new List<double>(queries);
        var cpuStart = process.TotalProcessorTime;
        foreach (var (patient, _) in drawn)
        {
            var one = Stopwatch.StartNew();
            var response = await store.ExecuteAsync(Query(patient));
            operation.Add(one.Elapsed.TotalMilliseconds);
            if (response.Status != 200)
            {
                Console.Error.WriteLine($"$match answered {response.Status}");
                return 1;
            }
        }

        process.Refresh();
        var operationCpu = (process.TotalProcessorTime - cpuStart).TotalMilliseconds / queries;
        var matcher = new List<double>(queries);
        long found = 0, certain = 0;
        cpuStart = process.TotalProcessorTime;
        foreach (var (patient, source) in drawn)
        {
            var one = Stopwatch.StartNew();
            var candidates = await index.MatchAsync(PatientDemographics.ToPersonRecord(patient), 10, CancellationToken.None);
            matcher.Add(one.Elapsed.TotalMilliseconds);
            found += candidates.Any(c => c.Record.RecordId == source) ? 1 : 0;
            certain += candidates.Any(c => c.Record.RecordId == source && c.Decision == MatchDecision.AutoLink) ? 1 : 0;
        }

        process.Refresh();
        var matcherCpu = (process.TotalProcessorTime - cpuStart).TotalMilliseconds / queries;
        Console.WriteLine($"{queries:N0} Patient/$match calls against {counts.SourceRecords:N0} records: {Latencies(operation)}; {operationCpu:0.00} ms CPU per call");
        Console.WriteLine($"  the matcher alone: {Latencies(matcher)}; {matcherCpu:0.00} ms CPU per call; the queried record found in {found / (double)queries:P1} of queries, as certain in {certain / (double)queries:P1}");
        return 0;

        static string Latencies(List<double> times)
        {
            times.Sort();
            return $"p50 {Percentile(times, 0.5):0.00} ms, p95 {Percentile(times, 0.95):0.00} ms, p99 {Percentile(times, 0.99):0.00} ms, max {times[^1]:0.00} ms";
        }
    }

    private static async Task LoadAsync(MasterPatientIndex index, int people, int seed)
    {
        var clock = Stopwatch.StartNew();
        var generator = new RegionGenerator(new RegionOptions { Patients = people, Seed = seed });
        var perPerson = new List<SourceImport>[people];
        Parallel.For(0, people, i =>
        {
            var bundle = generator.GeneratePerson(i);
            var patients = bundle.Bundle.Entry.Select(e => e.Resource).OfType<Patient>().ToList();
            var master = "m" + bundle.PersonId.Replace("-", string.Empty, StringComparison.Ordinal);
            var list = new List<SourceImport>(patients.Count);
            for (var k = 0; k < patients.Count; k++)
            {
                patients[k].Id = bundle.Truth[k].SourcePatientId;
                list.Add(new SourceImport(PatientDemographics.ToPersonRecord(patients[k]), master, patients.Count == 1 ? "new" : k == 0 ? "new" : "auto"));
            }

            perPerson[i] = list;
        });
        Console.WriteLine($"Generated the source records of {people:N0} people in {clock.Elapsed.TotalSeconds:0.0} s");
        clock.Restart();
        var written = await SourceImports.ImportAsync(index, perPerson.SelectMany(p => p), CancellationToken.None);
        Console.WriteLine($"Wrote {written:N0} source records into the index's table in {clock.Elapsed.TotalSeconds:0.0} s, filed under their true people");
    }

    /// <summary>The indexed records, grouped by the person they are filed under, to draw queries from.</summary>
    private static async Task<List<PersonRecord>> ReadPeopleAsync(FhirStore store)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = FhirStore.Command(connection, "SELECT person FROM mpi_source WHERE deleted = 0 AND person IS NOT NULL ORDER BY patient_id");
        var list = new List<PersonRecord>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            list.Add(System.Text.Json.JsonSerializer.Deserialize<PersonRecord>(reader.GetString(0), MasterPatientIndex.RecordJson)!);
        }

        return list;
    }

    /// <summary>
    /// A query as a clinic would send it for a record in the index: usually without the NHS number, sometimes
    /// with a typo in a name, day and month swapped, no phone, or a new address.
    /// </summary>
    private static (Patient Patient, string Source) QueryPatient(List<PersonRecord> records, Random rng)
    {
        var r = records[rng.Next(records.Count)];
        var given = r.GivenNames?.Split(' ')[0];
        var family = r.FamilyName;
        if (rng.NextDouble() < 0.3)
        {
            if (rng.NextDouble() < 0.5 && given is { Length: > 3 })
            {
                given = Typo(given, rng);
            }
            else if (family is { Length: > 3 })
            {
                family = Typo(family, rng);
            }
        }

        var born = r.BirthDate;
        if (born is { } d && rng.NextDouble() < 0.05 && d.Day <= 12)
        {
            born = new DateOnly(d.Year, d.Day, d.Month);
        }

        var patient = new Patient
        {
            Name = [new HumanName { Family = family, Given = given is null ? [] : [given] }],
            BirthDate = born?.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            Gender = r.Sex switch { RecordedSex.Male => AdministrativeGender.Male, RecordedSex.Female => AdministrativeGender.Female, _ => null },
        };
        if (r.NhsNumber is not null && rng.NextDouble() < 0.3)
        {
            patient.Identifier.Add(new Identifier("https://fhir.nhs.uk/Id/nhs-number", r.NhsNumber));
        }

        if (rng.NextDouble() < 0.8)
        {
            patient.Address.Add(new Address { Line = r.AddressLine is null ? [] : [r.AddressLine], City = r.Town, PostalCode = r.Postcode });
        }

        if (r.Phone is not null && rng.NextDouble() < 0.5)
        {
            patient.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Mobile, r.Phone));
        }

        return (patient, r.RecordId);
    }

    private static string Typo(string name, Random rng)
    {
        var chars = name.ToCharArray();
        var i = rng.Next(1, name.Length - 1);
        (chars[i], chars[i + 1]) = (chars[i + 1], chars[i]);
        return chars[i] == chars[i + 1] ? name.Remove(i, 1) : new string(chars);
    }

    private static FhirRequest Query(Patient patient) => new()
    {
        Method = "POST",
        Path = "Patient/$match",
        Resource = new Parameters { Parameter = [new Parameters.ParameterComponent { Name = "resource", Resource = patient }, new Parameters.ParameterComponent { Name = "count", Value = new Integer(10) }] },
    };

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];

    private static long PeakMegabytes()
    {
        using var process = Process.GetCurrentProcess();
        return process.PeakWorkingSet64 / 1048576;
    }
}

/// <summary>What each blocking rule costs (pairs) and what it alone finds (true pairs no other rule brings).</summary>
internal static class BlockingReportBench
{
    public static async Task<int> RunAsync(string database)
    {
        await using var store = await FhirStore.OpenAsync(DatabaseLocation.Parse(database));
        var index = await store.AddIdentityAsync();
        await using var connection = await store.OpenConnectionAsync();
        var rows = new List<(PersonRecord Record, string Master)>();
        await using (var cmd = FhirStore.Command(connection, "SELECT person, master_id FROM mpi_source WHERE deleted = 0 AND quarantined = 0 AND person IS NOT NULL ORDER BY patient_id"))
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((System.Text.Json.JsonSerializer.Deserialize<PersonRecord>(reader.GetString(0), MasterPatientIndex.RecordJson)!, reader.GetString(1)));
            }
        }

        var matchIndex = index.Engine.CreateIndex(rows.Select(r => r.Record));
        var rules = Blocking.RuleNames.Length;
        var pairs = new long[rules];
        var blocks = new long[rules];
        var oversized = new long[rules];
        var largest = new long[rules];
        foreach (var (key, block) in matchIndex.Blocks)
        {
            var rule = (int)(key >> 59);
            blocks[rule]++;
            if (block.Count > Blocking.MaxBlockSize(key, matchIndex.MaxBlockSize))
            {
                oversized[rule]++;
                continue;
            }

            pairs[rule] += (long)block.Count * (block.Count - 1) / 2;
            largest[rule] = Math.Max(largest[rule], block.Count);
        }

        // True pairs (same person) and which rules bring each.
        var only = new long[rules];
        long truePairs = 0, found = 0;
        foreach (var person in rows.Select((r, i) => (r.Master, i)).GroupBy(x => x.Master).Where(g => g.Count() > 1))
        {
            var members = person.Select(x => x.i).ToList();
            for (var a = 0; a < members.Count; a++)
            {
                for (var b = a + 1; b < members.Count; b++)
                {
                    truePairs++;
                    var shared = matchIndex.KeysByRecord[members[a]].Intersect(matchIndex.KeysByRecord[members[b]])
                        .Where(k => matchIndex.Blocks[k].Count <= Blocking.MaxBlockSize(k, matchIndex.MaxBlockSize))
                        .Select(k => (int)(k >> 59)).Distinct().ToList();
                    if (shared.Count > 0)
                    {
                        found++;
                    }

                    if (shared.Count == 1)
                    {
                        only[shared[0]]++;
                    }
                }
            }
        }

        Console.WriteLine($"{rows.Count:N0} records, {truePairs:N0} true pairs, {found:N0} share a searched block ({found / (double)Math.Max(1, truePairs):P2})");
        for (var r = 0; r < rules; r++)
        {
            Console.WriteLine($"  {r} {Blocking.RuleNames[r],-68} blocks {blocks[r],9:N0} oversized {oversized[r],6:N0} largest {largest[r],5:N0} pairs {pairs[r],12:N0} only-finder of {only[r],7:N0} true pairs");
        }

        return 0;
    }
}
