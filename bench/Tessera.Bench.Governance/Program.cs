using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using Hl7.Fhir.Model;
using Npgsql;
using Claim = System.Security.Claims.Claim;
using Tessera.Governance;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Storage;

// Read and search throughput with governance (access policy + audit) on versus off, on PostgreSQL, in process.
// Usage: TESSERA_BENCH_PG="Host=...;Username=...;Database=postgres" dotnet run -c Release --project bench/Tessera.Bench.Governance -- [people] [requests] [clients, e.g. 1,16]
// Creates a fresh database, loads `people` people (half registered at the caller's practice, each with 5 Observations,
// one in ten with an opt-out), then runs the same reads by id and Observation?patient= searches as an internal caller
// (no policy, no audit) and as a GP through the policy, with every access audited.
var admin = Environment.GetEnvironmentVariable("TESSERA_BENCH_PG") ?? "Host=127.0.0.1;Port=55433;Username=postgres;Database=postgres";
var people = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
var requests = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 4000;
var clientCounts = args.Length > 2 ? args[2].Split(',').Select(c => int.Parse(c, CultureInfo.InvariantCulture)).ToArray() : [1, 16];

var name = "tessera_bench_gov_" + Guid.NewGuid().ToString("N")[..8];
await using (var c = new NpgsqlConnection(admin))
{
    await c.OpenAsync();
    await new NpgsqlCommand($"CREATE DATABASE {name}", c).ExecuteNonQueryAsync();
}

var location = new DatabaseLocation(DatabaseKind.Postgres, new NpgsqlConnectionStringBuilder(admin) { Database = name, MaxPoolSize = 100 }.ConnectionString);
try
{
    await using var governed = await FhirStore.OpenAsync(location);
    await using var governance = await governed.AddGovernanceAsync();
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

    var gp = new ClaimsPrincipal(new ClaimsIdentity(
        [new Claim("sub", "bench-gp"), new Claim("tessera_role", "gp"), new Claim("fhirUser", "Practitioner/p-gp"), new Claim("tessera_org", "Organization/org-a"), new Claim("scope", "user/*.cruds"), new Claim("client_id", "bench")], "bench"));
    // The GP's own registered patients, without the opted-out ones: every request is permitted and returns data.
    var visible = Enumerable.Range(0, people).Where(i => i % 2 == 0 && i % 10 != 5).Select(i => $"p{i}").ToArray();

    Console.WriteLine($"{"scenario",-34} {"clients",7} {"req/s off",10} {"req/s on",10} {"overhead",9}");
    foreach (var (label, url) in new (string, Func<string, string>)[] { ("read Patient/[id]", id => $"Patient/{id}"), ("search Observation?patient=[id]", id => $"Observation?patient={id}") })
    {
        foreach (var clients in clientCounts)
        {
            // Warm both paths, then measure off and on alternately.
            await RunAsync(open, null, url, visible, clients, 200);
            await RunAsync(governed, gp, url, visible, clients, 200);
            var off = await RunAsync(open, null, url, visible, clients, requests);
            var on = await RunAsync(governed, gp, url, visible, clients, requests);
            Console.WriteLine($"{label,-34} {clients,7} {off,10:F0} {on,10:F0} {(off - on) / off,9:P1}");
        }
    }

    var verify = await governance.VerifyAuditAsync();
    Console.WriteLine($"Audit trail: {verify.Rows} rows, intact: {verify.Intact}");
}
finally
{
    NpgsqlConnection.ClearAllPools();
    await using var c = new NpgsqlConnection(admin);
    await c.OpenAsync();
    await new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", c).ExecuteNonQueryAsync();
}

static async Task<double> RunAsync(FhirStore store, ClaimsPrincipal? caller, Func<string, string> url, string[] ids, int clients, int count)
{
    var next = -1;
    var watch = Stopwatch.StartNew();
    await Parallel.ForAsync(0, clients, async (_, ct) =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < count)
        {
            var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", url(ids[i * 7919 % ids.Length])) with { Principal = caller }, ct);
            if (response.Status != 200)
            {
                throw new InvalidOperationException($"{url(ids[i % ids.Length])}: {response.Status} {response.Outcome?.Issue.FirstOrDefault()?.Diagnostics}");
            }
        }
    });
    return count / watch.Elapsed.TotalSeconds;
}
