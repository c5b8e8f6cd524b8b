using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using Hl7.Fhir.Model;
using Npgsql;
using Tessera.Bench.Governance;
using Tessera.Governance;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Storage;
using Claim = System.Security.Claims.Claim;

// Read and search throughput with governance (access policy + audit) on versus off, on PostgreSQL, in process or
// (TESSERA_BENCH_HTTP=1) through the FHIR API over HTTP.
// Usage: TESSERA_BENCH_PG="Host=...;Username=...;Database=postgres" dotnet run -c Release --project bench/Tessera.Bench.Governance -- [people] [requests] [clients, e.g. 1,16]
// Creates a fresh database, loads `people` people (half registered at the caller's practice, each with 5 Observations,
// one in ten with an opt-out), then runs the same reads by id and Observation?patient= searches as an internal caller
// (no policy, no audit) and as a GP through the policy, with every access audited.
var admin = Environment.GetEnvironmentVariable("TESSERA_BENCH_PG") ?? "Host=127.0.0.1;Port=55433;Username=postgres;Database=postgres";
var people = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
var requests = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4000;
var clientCounts = args.Length > 2 ? args[2].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray() : [1, 16];

// TESSERA_BENCH_DB_PREFIX names the database (e.g. after whoever runs it on a shared server).
var name = (Environment.GetEnvironmentVariable("TESSERA_BENCH_DB_PREFIX") ?? "tessera_bench_gov_") + Guid.NewGuid().ToString("N")[..8];
await using (var c = new NpgsqlConnection(admin))
{
    await c.OpenAsync();
    await new NpgsqlCommand($"CREATE DATABASE {name}", c).ExecuteNonQueryAsync();
}

var location = new DatabaseLocation(DatabaseKind.Postgres, new NpgsqlConnectionStringBuilder(admin) { Database = name, MaxPoolSize = 100 }.ConnectionString);
try
{
    await using var governed = await FhirStore.OpenAsync(location);
    // Governance__KeepTestAnswers=false measures without kept answers, in process as through the API (whose host reads its options from the environment).
    await using var governance = await governed.AddGovernanceAsync(new GovernanceOptions { KeepTestAnswers = Environment.GetEnvironmentVariable("Governance__KeepTestAnswers") is not { } keep || !bool.TryParse(keep, out var kept) || kept });
    await using var open = await FhirStore.OpenAsync(location);

    var load = Stopwatch.StartNew();
    await Parallel.ForAsync(0, people, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
    {
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        var patient = new Patient { Id = $"p{i}", Meta = new Meta { Source = "Organization/org-b" }, Name = [new HumanName { Family = "Bench", Given = [$"P{i}"] }] };
        if (i % 2 == 0)
        {
            patient.GeneralPractitioner = [new ResourceReference("Organization/org-a")];
        }

        bundle.Entry.Add(new Bundle.EntryComponent { Resource = patient, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"Patient/p{i}" } });
        for (var o = 0; o < 5; o++)
        {
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                Resource = new Observation { Meta = new Meta { Source = "Organization/org-b" }, Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference($"Patient/p{i}"), Value = new Quantity(60 + o, "/min") },
                Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Observation" },
            });
        }

        if (i % 10 == 5)
        {
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                Resource = new Consent { Status = Consent.ConsentState.Active, Scope = new CodeableConcept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"), Category = [new CodeableConcept("http://loinc.org", "59284-0")], Patient = new ResourceReference($"Patient/p{i}"), Provision = new Consent.provisionComponent { Type = Consent.ConsentProvisionType.Deny } },
                Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Consent" },
            });
        }

        var response = await governed.ExecuteAsync(new FhirRequest { Method = "POST", Path = string.Empty, Resource = bundle }, ct);
        if (response.Status != 200)
        {
            throw new InvalidOperationException($"Loading person {i} failed: {response.Status}");
        }
    });
    Console.WriteLine($"Governance benchmark on PostgreSQL; {people} people, {people * 6 + people / 10} resources loaded in {load.Elapsed.TotalSeconds:F1} s; {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z");

    // Settle the freshly loaded tables before measuring, as a running region's are: otherwise autovacuum vacuums and
    // analyses them during a measured round, and its CPU (counted with the database's backends, and taken from the
    // cores the benchmark runs on) and the plans that change with its statistics land on whichever path is being
    // measured. The loading connections report their inserts to the statistics only once they have been idle a while
    // (PostgreSQL 15 flushes a backend's counts at most every 10 s when idle): vacuuming before that leaves the
    // inserts counted after the vacuum, and autovacuum then starts on every table a minute or two later, in the middle
    // of the measurement. So wait until the inserts are counted, then vacuum.
    var vacuumed = await SettleAsync(location.ConnectionString, people * 6);

    // TESSERA_BENCH_CALLER=system reads as a system client instead: no row filter, so only the audit's cost is measured.
    var role = Environment.GetEnvironmentVariable("TESSERA_BENCH_CALLER") ?? "gp";
    var gp = new ClaimsPrincipal(new ClaimsIdentity(
        [new Claim("sub", "bench-" + role), new Claim("tessera_role", role), new Claim("fhirUser", "Practitioner/p-gp"), new Claim("tessera_org", "Organization/org-a"), new Claim("scope", "user/*.cruds"), new Claim("client_id", "bench")], "bench"));
    // The GP's own registered patients, without the opted-out ones: every request is permitted and returns data.
    var visible = Enumerable.Range(0, people).Where(i => i % 2 == 0 && i % 10 != 5).Select(i => $"p{i}").ToArray();

    // TESSERA_BENCH_HTTP=1 measures through the FHIR API over HTTP (Tessera's web host twice on loopback, with and
    // without governance, the GP signed in with a real token); otherwise the store is called in process.
    await using var http = Environment.GetEnvironmentVariable("TESSERA_BENCH_HTTP") == "1" ? await HttpRig.StartAsync(location.ConnectionString, open) : null;
    // The audit trail the governed path writes to: the governed host's over HTTP. A measurement of the governed path
    // ends with it flushed, so that the audit's background work is counted with the requests that caused it.
    var trail = http is not null ? http.GovernedAudit : governance.Audit;
    Request Path(bool governedPath) => http is not null
        ? HttpRequest(governedPath ? http.Governed : http.Ungoverned)
        : StoreRequest(governedPath ? governed : open, governedPath ? gp : null);

    if (Environment.GetEnvironmentVariable("TESSERA_BENCH_PROFILE") is { Length: > 0 } profile)
    {
        // Only requests of one kind (read or search; governed, or ungoverned with "-off"), for a profiler attached to this process.
        Func<string, string> only = profile.StartsWith("search", StringComparison.Ordinal) ? id => $"Observation?patient={id}" : id => $"Patient/{id}";
        var path = Path(!profile.EndsWith("-off", StringComparison.Ordinal));
        await WarmAsync(path, only, visible, clientCounts[0], requests);
        Console.WriteLine($"Profiling {profile}: start");
        var watch = Stopwatch.StartNew();
        var allocated = GC.GetTotalAllocatedBytes();
        var (collections, gen1, gen2, paused) = (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration());
        var used = await Cpu.StartAsync(name, admin);
        var rate = await RunAsync(path, only, visible, clientCounts[0], requests);
        await trail.FlushAsync();
        var (usedNet, usedPg) = await used.TakeAsync(requests);
        Console.WriteLine($"Profiling {profile}: {rate:F0} req/s, {watch.Elapsed.TotalSeconds:F1} s; {(GC.GetTotalAllocatedBytes() - allocated) / requests:F0} bytes allocated a request (client and server), {GC.CollectionCount(0) - collections} collections ({GC.CollectionCount(1) - gen1} of generation 1, {GC.CollectionCount(2) - gen2} of generation 2), paused {(GC.GetTotalPauseDuration() - paused).TotalMicroseconds / requests:F1} µs a request; CPU µs a request {usedNet:F0} .NET + {usedPg:F0} PostgreSQL");
        return;
    }

    Console.WriteLine($"{"scenario",-34} {"clients",7} {"req/s off",10} {"req/s on",10} {"overhead",9} {"cpu µs off",11} {"cpu µs on",10} {"(.NET+PostgreSQL per request)",30}");
    // TESSERA_BENCH_ROUNDS (default 1) measures off and on alternately that many times and reports the medians;
    // TESSERA_BENCH_ONLY=read or search runs one of the two scenarios.
    var rounds = Math.Max(1, int.Parse(Environment.GetEnvironmentVariable("TESSERA_BENCH_ROUNDS") ?? "1", CultureInfo.InvariantCulture));
    var scenario = Environment.GetEnvironmentVariable("TESSERA_BENCH_ONLY");
    // TESSERA_BENCH_BLOCK=n measures off and on in alternate blocks of n requests instead of rounds (no CPU figures).
    var block = int.Parse(Environment.GetEnvironmentVariable("TESSERA_BENCH_BLOCK") ?? "0", CultureInfo.InvariantCulture);
    foreach (var (label, url) in new (string, Func<string, string>)[] { ("read Patient/[id]", id => $"Patient/{id}"), ("search Observation?patient=[id]", id => $"Observation?patient={id}") })
    {
        if (scenario is { Length: > 0 } && !label.StartsWith(scenario, StringComparison.Ordinal))
        {
            continue;
        }

        foreach (var clients in clientCounts)
        {
            // Warm both paths long enough for the runtime to finish compiling their optimised code (tiered compilation
            // works in the background, for seconds; a warm-up of a few thousand requests left it compiling the governed
            // path while it was measured, and counted that in its CPU), then measure off and on alternately.
            await WarmAsync(Path(false), url, visible, clients, requests);
            await WarmAsync(Path(true), url, visible, clients, requests);
            await trail.FlushAsync();
            if (block > 0)
            {
                // Off and on in alternate blocks, each path's time summed: the machine's drift, minutes long, falls on both
                // alike. The governed blocks end with the audit committed, so its background work is theirs.
                var (offTime, onTime) = (TimeSpan.Zero, TimeSpan.Zero);
                var pairs = new List<double>();
                var flushTime = TimeSpan.Zero;
                for (var done = 0; done < requests; done += block)
                {
                    var n = Math.Min(block, requests - done);
                    var (pairOff, pairOn) = (TimeSpan.Zero, TimeSpan.Zero);
                    foreach (var governedPath in done / block % 2 == 0 ? new[] { false, true } : [true, false])
                    {
                        var watch = Stopwatch.StartNew();
                        await RunAsync(Path(governedPath), url, visible, clients, n, done);
                        if (governedPath)
                        {
                            var flushing = Stopwatch.StartNew();
                            await trail.FlushAsync();
                            flushTime += flushing.Elapsed;
                            pairOn = watch.Elapsed;
                        }
                        else
                        {
                            pairOff = watch.Elapsed;
                        }
                    }

                    (offTime, onTime) = (offTime + pairOff, onTime + pairOn);
                    pairs.Add(1 - (pairOff / pairOn));
                }

                var (offRate, onRate) = (requests / offTime.TotalSeconds, requests / onTime.TotalSeconds);
                Console.WriteLine($"{label,-34} {clients,7} {offRate,10:F0} {onRate,10:F0} {(offRate - onRate) / offRate,9:P1}   (alternate blocks of {block})");

                // Waiting for the last commit of a governed block is counted with it, though in steady running no
                // request waits for it: its share says how much of the overhead is that wait (small blocks inflate it).
                Console.WriteLine($"{string.Empty,-34} {string.Empty,7} the governed blocks' final audit commits: {flushTime.TotalMilliseconds / pairs.Count:F1} ms each, {flushTime / onTime:P1} of their time");

                // Each pair of neighbouring blocks gives an overhead of its own: their spread says how far the figure
                // above can be trusted on this machine (a block that a collection, a checkpoint or another tenant
                // slowed moves the sum, not the median).
                pairs.Sort();
                Console.WriteLine($"{string.Empty,-34} {string.Empty,7} per pair of blocks: median {Quantile(pairs, 0.5),6:P1}, middle half {Quantile(pairs, 0.25):P1} to {Quantile(pairs, 0.75):P1} ({pairs.Count} pairs)");
                continue;
            }

            var cpu = await Cpu.StartAsync(name, admin);
            var runs = new List<(double Off, double On, double OffNet, double OffPg, double OnNet, double OnPg)>();
            async Task<(double Rate, double Net, double Pg)> MeasureAsync(bool governedPath)
            {
                var rate = await RunAsync(Path(governedPath), url, visible, clients, requests);
                if (governedPath)
                {
                    await trail.FlushAsync(); // the audit's background work is part of what a governed request costs
                }

                var (net, pg) = await cpu.TakeAsync(requests);
                return (rate, net, pg);
            }

            for (var round = 0; round < rounds; round++)
            {
                // Off first in even rounds and on first in odd ones (off, on, on, off, ...): the machine's speed drifts
                // within a run, and a fixed order would credit the drift to whichever path always runs second.
                var first = await MeasureAsync(governedPath: round % 2 == 1);
                var second = await MeasureAsync(governedPath: round % 2 == 0);
                var ((roundOff, roundOffNet, roundOffPg), (roundOn, roundOnNet, roundOnPg)) = round % 2 == 0 ? (first, second) : (second, first);
                runs.Add((roundOff, roundOn, roundOffNet, roundOffPg, roundOnNet, roundOnPg));
                if (rounds > 1)
                {
                    Console.WriteLine($"  round {round + 1}: {roundOff:F0} → {roundOn:F0} req/s, {(roundOff - roundOn) / roundOff:P1}; CPU µs {roundOffNet:F0}+{roundOffPg:F0} → {roundOnNet:F0}+{roundOnPg:F0}");
                }
            }

            // Each figure is the median over the rounds (this machine's speed drifts by a third from minute to minute).
            var (off, on) = (Median(runs.Select(r => r.Off)), Median(runs.Select(r => r.On)));
            var (offNet, offPg, onNet, onPg) = (Median(runs.Select(r => r.OffNet)), Median(runs.Select(r => r.OffPg)), Median(runs.Select(r => r.OnNet)), Median(runs.Select(r => r.OnPg)));
            Console.WriteLine($"{label,-34} {clients,7} {off,10:F0} {on,10:F0} {(off - on) / off,9:P1} {offNet + offPg,11:F0} {onNet + onPg,10:F0}   {offNet:F0}+{offPg:F0} / {onNet:F0}+{onPg:F0}");
            if (rounds > 1)
            {
                Console.WriteLine($"  median of the rounds' own overheads: {Median(runs.Select(r => (r.Off - r.On) / r.Off)):P1}");
            }
        }
    }

    // Whether autovacuum ran on a table after the settling vacuum (during warming or measuring): its CPU then counted.
    await using (var c = new NpgsqlConnection(location.ConnectionString))
    {
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT string_agg(relname, ', ' ORDER BY relname) FROM pg_stat_user_tables WHERE last_autovacuum > @t OR last_autoanalyze > @t", c);
        cmd.Parameters.AddWithValue("t", vacuumed);
        if (await cmd.ExecuteScalarAsync() is string disturbed)
        {
            Console.WriteLine($"Note: autovacuum worked on {disturbed} while the benchmark ran; its CPU is in the figures of whichever path it overlapped.");
        }
    }

    var verify = await governance.VerifyAuditAsync();
    Console.WriteLine($"Audit trail: {verify.Rows} rows holding {verify.Events} events, intact: {verify.Intact}");
}
finally
{
    NpgsqlConnection.ClearAllPools();
    if (Environment.GetEnvironmentVariable("TESSERA_BENCH_KEEP") == "1")
    {
        Console.WriteLine($"Kept database {name} (TESSERA_BENCH_KEEP=1); drop it when done.");
        Environment.Exit(0);
    }

    await using var c = new NpgsqlConnection(admin);
    await c.OpenAsync();
    await new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", c).ExecuteNonQueryAsync();
}

// Waits (up to a minute) until the statistics count at least `versions` inserted versions, then vacuums and analyses
// the database; returns when the vacuum finished.
static async Task<DateTime> SettleAsync(string connectionString, long versions)
{
    await using var c = new NpgsqlConnection(connectionString);
    await c.OpenAsync();
    var waited = Stopwatch.StartNew();
    while (waited.Elapsed < TimeSpan.FromMinutes(1))
    {
        await using var counted = new NpgsqlCommand("SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = 'resource_version'", c);
        if (Convert.ToInt64(await counted.ExecuteScalarAsync(), CultureInfo.InvariantCulture) >= versions)
        {
            break;
        }

        await System.Threading.Tasks.Task.Delay(500);
    }

    await new NpgsqlCommand("VACUUM ANALYZE", c) { CommandTimeout = 0 }.ExecuteNonQueryAsync();
    return DateTime.UtcNow;
}

static double Median(IEnumerable<double> values) => Quantile([.. values.Order()], 0.5);

// The q-quantile of sorted values, between neighbouring values where it falls between two (the median of an even
// count is the mean of the middle two).
static double Quantile(IReadOnlyList<double> sorted, double q)
{
    var position = (sorted.Count - 1) * q;
    var below = (int)Math.Floor(position);
    return below + 1 < sorted.Count ? sorted[below] + ((position - below) * (sorted[below + 1] - sorted[below])) : sorted[below];
}

// At least half the measured requests, and at least TESSERA_BENCH_WARM_SECONDS (default 10) of them.
static async System.Threading.Tasks.Task WarmAsync(Request request, Func<string, string> url, string[] ids, int clients, int requests)
{
    var seconds = double.Parse(Environment.GetEnvironmentVariable("TESSERA_BENCH_WARM_SECONDS") ?? "10", CultureInfo.InvariantCulture);
    var watch = Stopwatch.StartNew();
    do
    {
        await RunAsync(request, url, ids, clients, Math.Max(200, requests / 2));
    }
    while (watch.Elapsed.TotalSeconds < seconds);
}

static async Task<double> RunAsync(Request request, Func<string, string> url, string[] ids, int clients, int count, int first = 0)
{
    var next = -1;
    var watch = Stopwatch.StartNew();
    // Without options Parallel.ForAsync runs at most as many bodies at once as the machine has cores: the clients are
    // all concurrent only when the degree says so.
    await Parallel.ForAsync(0, clients, new ParallelOptions { MaxDegreeOfParallelism = clients }, async (_, ct) =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < count)
        {
            await request(url(ids[(int)((long)(first + i) * 7919 % ids.Length)]), ct);
        }
    });
    return count / watch.Elapsed.TotalSeconds;
}

// A read or search in process: the store called with the caller (none: an internal, ungoverned call).
static Request StoreRequest(FhirStore store, ClaimsPrincipal? caller) => async (target, ct) =>
{
    var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", target) with { Principal = caller }, ct);
    if (response.Status != 200)
    {
        throw new InvalidOperationException($"{target}: {response.Status} {response.Outcome?.Issue.FirstOrDefault()?.Diagnostics}");
    }
};

// The same over HTTP: the whole JSON body is read, as a client would.
static Request HttpRequest(HttpClient client) => async (target, ct) =>
{
    using var response = await client.GetAsync(target, ct);
    var body = await response.Content.ReadAsByteArrayAsync(ct);
    if (response.StatusCode != System.Net.HttpStatusCode.OK)
    {
        throw new InvalidOperationException($"{target}: {(int)response.StatusCode} {System.Text.Encoding.UTF8.GetString(body)}");
    }
};

/// <summary>One request of a scenario: the target URL relative to the FHIR base.</summary>
internal delegate System.Threading.Tasks.Task Request(string target, CancellationToken ct);

/// <summary>
/// CPU time per request of this process and of the PostgreSQL backends serving the benchmark's database (from
/// /proc; repeatable under load, unlike wall-clock rates). Each take measures since the previous one.
/// </summary>
internal sealed class Cpu
{
    private readonly string _database;
    private readonly string _admin;
    private TimeSpan _net;
    private Dictionary<int, long> _pg = [];

    private Cpu(string database, string admin) => (_database, _admin) = (database, admin);

    public static async Task<Cpu> StartAsync(string database, string admin)
    {
        var cpu = new Cpu(database, admin);
        cpu._net = Process.GetCurrentProcess().TotalProcessorTime;
        cpu._pg = await cpu.PostgresTicksAsync();
        return cpu;
    }

    /// <summary>Microseconds of CPU per request (.NET, PostgreSQL) since the last take.</summary>
    public async Task<(double Net, double Pg)> TakeAsync(int requests)
    {
        var net = Process.GetCurrentProcess().TotalProcessorTime;
        var pg = await PostgresTicksAsync();
        // Per process: one that started since the last take (an autovacuum worker, a new connection) counts whole;
        // one that ended since is not counted at all, rather than taking its earlier time off the total.
        var ticks = pg.Sum(p => p.Value - _pg.GetValueOrDefault(p.Key));
        var result = ((net - _net).TotalMicroseconds / requests, ticks / 100.0 * 1e6 / requests); // USER_HZ
        (_net, _pg) = (net, pg);
        return result;
    }

    /// <summary>CPU ticks so far of each PostgreSQL process that serves the benchmark, by process id.</summary>
    private async Task<Dictionary<int, long>> PostgresTicksAsync()
    {
        // Backends of the database, and the server's own WAL writer and checkpointer (the audit's writes cost there too).
        var pids = new List<int>();
        await using (var c = new NpgsqlConnection(_admin))
        {
            await c.OpenAsync();
            await using var cmd = new NpgsqlCommand("SELECT pid FROM pg_stat_activity WHERE datname = @d OR backend_type IN ('walwriter', 'checkpointer', 'background writer')", c);
            cmd.Parameters.AddWithValue("d", _database);
            await using var reader = await cmd.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                pids.Add(reader.GetInt32(0));
            }
        }

        var ticks = new Dictionary<int, long>();
        foreach (var pid in pids)
        {
            try
            {
                var stat = await File.ReadAllTextAsync($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks[pid] = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // The backend ended (or PostgreSQL runs elsewhere): its time is not counted.
            }
        }

        return ticks;
    }
}
