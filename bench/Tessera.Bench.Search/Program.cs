using System.Diagnostics;
using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;

// Search benchmark on the record store, in process (no HTTP): loads a generated region, then times common searches,
// among them every query issue 3 names, and Patient/$everything for a patient with about 300 resources.
// Either load a region into a database first (tessera demo --patients N --db DB) and give that database, or give the
// folder written by `tessera demo --patients N --out DIR --format Bundles`, loaded here through transactions.
// Usage: dotnet run -c Release --project bench/Tessera.Bench.Search -- [DIR] [--db sqlite:<file>|postgres://...] [--iterations 200] [--only <part of a search's name>] [--skip <part of a search's name>]
// Without --db a fresh SQLite file in the temp folder is used. A store that already holds Patients is not loaded again.
string Option(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
var folder = args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : null;
var db = Option("--db", "sqlite:" + Path.Combine(Path.GetTempPath(), $"tessera-bench-search-{Guid.NewGuid():N}.db"));
var iterations = int.Parse(Option("--iterations", "200"), CultureInfo.InvariantCulture);
await using var store = await FhirStore.OpenAsync(DatabaseLocation.Parse(db));

var counts = await store.CountByTypeAsync();
if (!counts.ContainsKey("Patient"))
{
    if (folder is null || !Directory.Exists(Path.Combine(folder, "bundles")))
    {
        Console.Error.WriteLine("The store holds no Patients: give --db a database loaded with `tessera demo --patients N --db DB`, or the folder written by `tessera demo --patients N --out DIR --format Bundles` (it has a bundles/ folder).");
        return 2;
    }

    var files = Directory.GetFiles(Path.Combine(folder, "bundles"), "*.json").Order(StringComparer.Ordinal).ToList();
    var load = Stopwatch.StartNew();
    foreach (var file in files)
    {
        var bundle = FhirSerialization.ParseJson(await File.ReadAllTextAsync(file));
        var response = await store.ExecuteAsync(new FhirRequest { Method = "POST", Path = string.Empty, Resource = bundle });
        if (response.Status >= 400)
        {
            Console.Error.WriteLine($"{Path.GetFileName(file)}: {response.Status} {string.Join("; ", response.Outcome?.Issue.Select(i => i.Diagnostics) ?? [])}");
            return 1;
        }
    }

    counts = await store.CountByTypeAsync();
    Console.WriteLine($"Loaded {files.Count} bundles ({counts.Values.Sum()} resources) in {load.Elapsed.TotalSeconds:F1} s");
}

// Sample values from the data: patients with an identifier and a name, and one of each patient's observations.
var samples = new List<(string Id, string Identifier, string Family, string Given, string BirthYear, string ObsCode)>();
foreach (var entry in (await Find("Patient?_count=100")).Entry)
{
    if (entry.Resource is not Patient p || p.Identifier.FirstOrDefault(i => i.Value is not null) is not { } identifier || p.Name.FirstOrDefault() is not { Family: { } family } name)
    {
        continue;
    }

    var observation = (await Find($"Observation?patient={p.Id}&_count=1")).Entry.Select(e => e.Resource).OfType<Observation>().FirstOrDefault();
    if (observation?.Code.Coding.FirstOrDefault() is not { } coding)
    {
        continue;
    }

    samples.Add((p.Id!, $"{identifier.System}|{identifier.Value}", family, name.Given.FirstOrDefault() ?? string.Empty, p.BirthDate?[..4] ?? "1970", $"{coding.System}|{coding.Code}"));
}

if (samples.Count == 0)
{
    Console.Error.WriteLine("No patient with an identifier, a name and an observation to sample.");
    return 1;
}

Console.WriteLine($"Tessera search benchmark on {DatabaseLocation.Parse(db).Describe()}; {counts.GetValueOrDefault("Patient")} patients, {counts.Values.Sum()} resources; "
    + $"{samples.Count} sample patients; {iterations} searches each; {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z");
Console.WriteLine($"{"search",-60} {"p50 ms",8} {"p95 ms",8} {"req/s",8} {"hits",6}");

// "Recent" A&E attendances: from the start of the year before the latest one in the data (the demo region's "today" is fixed).
var latest = (await Find("Encounter?class=EMER&_sort=-date&_count=1")).Entry.Select(e => e.Resource).OfType<Encounter>().FirstOrDefault()?.Period?.Start;
var recentYear = (latest is { Length: >= 4 } start ? int.Parse(start[..4], CultureInfo.InvariantCulture) : DateTime.UtcNow.Year) - 1;
var searches = new (string Name, Func<(string Id, string Identifier, string Family, string Given, string BirthYear, string ObsCode), string> Url)[]
{
    ("Patient?identifier=", s => $"Patient?identifier={Uri.EscapeDataString(s.Identifier)}"),
    ("Patient?family=&given=", s => $"Patient?family={Uri.EscapeDataString(s.Family)}&given={Uri.EscapeDataString(s.Given)}"),
    ("Patient?family=&birthdate=", s => $"Patient?family={Uri.EscapeDataString(s.Family)}&birthdate={s.BirthYear}"),
    ("Observation?patient=&code=&_sort=-date&_count=20", s => $"Observation?patient={s.Id}&code={Uri.EscapeDataString(s.ObsCode)}&_sort=-date&_count=20"),
    ("Condition?patient=&clinical-status=active", s => $"Condition?patient={s.Id}&clinical-status=active"),
    ("MedicationRequest?patient=&status=active&_include=..:medication", s => $"MedicationRequest?patient={s.Id}&status=active&_include=MedicationRequest:medication"),
    ($"Encounter?date=ge{recentYear}&class=EMER&_include=Encounter:subject", _ => $"Encounter?date=ge{recentYear}&class=EMER&_include=Encounter:subject"),
    ("Patient/$everything (sample patients, first page)", s => $"Patient/{s.Id}/$everything"),
    ("Observation?patient=&_sort=-date&_count=20", s => $"Observation?patient={s.Id}&_sort=-date&_count=20"),
    ("Observation?patient=&_include=Observation:patient", s => $"Observation?patient={s.Id}&_include=Observation:patient&_count=20"),
    ("Encounter?patient=&_include=Encounter:subject", s => $"Encounter?patient={s.Id}&_include=Encounter:subject&_count=20"),
    ("Patient?_has:Observation:patient:code=&_id=", s => $"Patient?_has:Observation:patient:code={Uri.EscapeDataString(s.ObsCode)}&_id={s.Id}"),
    ("Observation?patient.family=&patient.birthdate= (chain)", s => $"Observation?patient.family={Uri.EscapeDataString(s.Family)}&patient.birthdate={s.BirthYear}&_count=20"),
};

// The patient whose own compartment is nearest 300 resources, for issue 3's $everything target.
string? everyday = null;
await using (var connection = await store.OpenConnectionAsync())
await using (var command = connection.CreateCommand())
{
    command.CommandText = "SELECT patient_key FROM resource WHERE patient_key IS NOT NULL AND deleted = 0 GROUP BY patient_key ORDER BY ABS(COUNT(*) - 300), patient_key LIMIT 1";
    everyday = await command.ExecuteScalarAsync() as string;
}

if (everyday is not null)
{
    searches = [.. searches, ("Patient/$everything (~300-resource patient, _count=1000)", _ => $"Patient/{everyday}/$everything?_count=1000")];
}

var only = Option("--only", string.Empty);
var skip = Option("--skip", "\u0000");
foreach (var (name, url) in searches.Where(s => s.Name.Contains(only, StringComparison.OrdinalIgnoreCase) && !s.Name.Contains(skip, StringComparison.OrdinalIgnoreCase)))
{
    // One untimed round to warm the caches and the JIT.
    await Search(url(samples[0]));
    var times = new List<double>(iterations);
    var hits = 0L;
    var total = Stopwatch.StartNew();
    for (var i = 0; i < iterations; i++)
    {
        var started = Stopwatch.GetTimestamp();
        var entries = await Search(url(samples[i % samples.Count]));
        times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        hits += entries;
    }

    times.Sort();
    Console.WriteLine($"{name,-60} {Percentile(times, 0.50),8:F2} {Percentile(times, 0.95),8:F2} {iterations / total.Elapsed.TotalSeconds,8:F0} {hits / (double)iterations,6:F1}");
}

return 0;

// A search whose bundle the set-up reads.
async Task<Bundle> Find(string url)
{
    var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", url));
    return response.Status == 200 ? (Bundle)FhirStore.Materialise(response) : throw new InvalidOperationException($"GET {url} answered {response.Status}");
}

// A search as a server answers it in JSON: the store's answer and the response body's bytes, written the way the
// FHIR endpoint writes them (stored entries spliced when the answer allows it). Returns the number of entries.
async Task<int> Search(string url)
{
    var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", url));
    if (response.Status != 200)
    {
        throw new InvalidOperationException($"GET {url} answered {response.Status}: {string.Join("; ", response.Outcome?.Issue.Select(i => i.Diagnostics) ?? [])}");
    }

    if (response.HasRawBody)
    {
        _ = response.Body!.ToJsonUtf8();
        return response.Body.Entries.Count;
    }

    var bundle = (Bundle)FhirStore.Materialise(response);
    _ = FhirSerialization.ToJson(bundle);
    return bundle.Entry.Count;
}

static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
