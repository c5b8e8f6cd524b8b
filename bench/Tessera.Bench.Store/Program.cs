using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

// Load benchmark of the FHIR API over HTTP against a running Tessera (tessera serve), on loopback.
// Measures single creates (Patient, and with "observation" Observation), reads by id and 100-resource transaction bundles with 1 and 16 clients.
// Reads need ids: a read-only run creates its sample patients first, untimed. The arguments and the token it needs are in
// Usage below (dotnet run -c Release --project bench/Tessera.Bench.Store -- --help); with a client id and secret it takes
// a client-credentials token from /auth/token.
const string Usage = """
    Usage: Tessera.Bench.Store [base-url] [scale] [scenarios] [client counts]
      base-url       the FHIR base of a running Tessera (default http://127.0.0.1:8080/fhir)
      scale          a positive multiplier of the request counts (default 1: 2,000 creates, 5,000 reads, 60 bundles)
      scenarios      a comma-separated list of create, observation, read, bundle (default create,read,bundle)
      client counts  a comma-separated list of concurrent clients (default 1,16)
    Token: BENCH_CLIENT_ID and BENCH_CLIENT_SECRET of a system client with system/*.cruds
    (tessera clients add --id bench --secret-stdin --scopes "system/*.cruds"), or an access token as TESSERA_TOKEN.
    BENCH_WARM_SECONDS: the untimed warm-up of each scenario (default 20).
    """;
string[] scenarios = ["create", "observation", "read", "bundle"];
if (args.Length > 0 && args[0] is "-h" or "--help" or "-?")
{
    Console.WriteLine(Usage);
    return 0;
}

if (args.Length > 4)
{
    return Fail($"expected at most four arguments, got {args.Length}.");
}

var baseUrl = (args.Length > 0 ? args[0] : "http://127.0.0.1:8080/fhir").TrimEnd('/');
if (!Uri.TryCreate(baseUrl, UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
{
    return Fail($"'{baseUrl}' is not an http or https URL: give the FHIR base of a running server, e.g. http://127.0.0.1:8080/fhir.");
}

if (!double.TryParse(args.Length > 1 ? args[1] : "1", NumberStyles.Float, CultureInfo.InvariantCulture, out var scale) || !(scale > 0) || double.IsInfinity(scale))
{
    return Fail($"the scale '{args[1]}' is not a positive number (e.g. 0.5 or 2).");
}

var only = args.Length > 2 ? args[2].Split(',', StringSplitOptions.TrimEntries) : ["create", "read", "bundle"];
if (only.FirstOrDefault(o => !scenarios.Contains(o)) is { } unknown)
{
    return Fail($"unknown scenario '{unknown}': choose from {string.Join(", ", scenarios)}.");
}

var clientCounts = new List<int>();
foreach (var text in (args.Length > 3 ? args[3] : "1,16").Split(',', StringSplitOptions.TrimEntries))
{
    if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
    {
        return Fail($"the client count '{text}' is not a positive whole number (e.g. 1,16).");
    }

    clientCounts.Add(count);
}

using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromMinutes(5) };
try
{
    using var metadata = await http.GetAsync($"{baseUrl}/metadata");
    if (!metadata.IsSuccessStatusCode)
    {
        return Fail($"{baseUrl}/metadata answered {(int)metadata.StatusCode}: is {baseUrl} the FHIR base of a Tessera server?", usage: false);
    }
}
catch (HttpRequestException e)
{
    return Fail($"cannot reach {baseUrl} ({e.Message}): start a server first, e.g. tessera serve --no-demo --db <database> --urls {baseUri.GetLeftPart(UriPartial.Authority)}.", usage: false);
}

// /fhir needs an access token (docs/security.md): a system client's token with system/*.cruds.
if (Environment.GetEnvironmentVariable("TESSERA_TOKEN") is { Length: > 0 } token)
{
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
}
else if (Environment.GetEnvironmentVariable("BENCH_CLIENT_ID") is { Length: > 0 } clientId)
{
    var origin = baseUri.GetLeftPart(UriPartial.Authority);
    using var tokenResponse = await http.PostAsync($"{origin}/auth/token", new FormUrlEncodedContent(new Dictionary<string, string>
    {
        ["grant_type"] = "client_credentials",
        ["client_id"] = clientId,
        ["client_secret"] = Environment.GetEnvironmentVariable("BENCH_CLIENT_SECRET") ?? string.Empty,
        ["scope"] = "system/*.cruds",
    }));
    var answer = await tokenResponse.Content.ReadAsStringAsync();
    if (!tokenResponse.IsSuccessStatusCode)
    {
        return Fail($"{origin}/auth/token refused client '{clientId}' ({(int)tokenResponse.StatusCode}: {answer}): check BENCH_CLIENT_SECRET, and that the client was registered with --scopes \"system/*.cruds\".", usage: false);
    }

    var accessToken = System.Text.Json.JsonDocument.Parse(answer).RootElement.GetProperty("access_token").GetString();
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
}
else
{
    return Fail("no access token: set BENCH_CLIENT_ID and BENCH_CLIENT_SECRET (or TESSERA_TOKEN).");
}

var serializer = new FhirJsonSerializer();

var createdIds = new List<string>();

if (!double.TryParse(Environment.GetEnvironmentVariable("BENCH_WARM_SECONDS") ?? "20", NumberStyles.Float, CultureInfo.InvariantCulture, out var warmSeconds) || !(warmSeconds >= 0) || double.IsInfinity(warmSeconds))
{
    return Fail("BENCH_WARM_SECONDS is not a number of seconds (0 or more).");
}

Console.WriteLine($"Tessera store benchmark against {baseUrl}; {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd HH:mm}Z; each scenario warmed {warmSeconds:F0} s untimed (BENCH_WARM_SECONDS)");
Console.WriteLine($"{"scenario",-22} {"clients",7} {"requests",9} {"req/s",9} {"res/s",9} {"p50 ms",8} {"p95 ms",8}");

foreach (var clients in only.Contains("create") ? clientCounts : [])
{
    await RunAsync("create Patient", clients, (int)(2000 * scale), 1, async i =>
    {
        var body = serializer.SerializeToString(SamplePatient(i));
        using var response = await http.PostAsync($"{baseUrl}/Patient", Json(body));
        response.EnsureSuccessStatusCode();
        var location = response.Headers.Location!.ToString();
        lock (createdIds)
        {
            createdIds.Add(location.Split("/Patient/")[1].Split('/')[0]);
        }
    });
}

// Creates of a typical clinical resource: an Observation of one patient (a Patient create also sets the patient
// index matching it in the background, so it is the dearest create there is).
if (only.Contains("observation"))
{
    using var owner = await http.PostAsync($"{baseUrl}/Patient", Json(serializer.SerializeToString(SamplePatient(90_000))));
    var ownerId = owner.EnsureSuccessStatusCode().Headers.Location!.ToString().Split("/Patient/")[1].Split('/')[0];
    // The bodies are serialised before the clock starts: the client then only sends bytes, as an interface engine
    // forwarding messages does, and its own serialising does not count in the server's latency.
    var bodies = Enumerable.Range(0, (int)(2000 * scale)).Select(i => Encoding.UTF8.GetBytes(serializer.SerializeToString(new Observation
    {
        Status = ObservationStatus.Final,
        Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")],
        Code = new CodeableConcept("http://loinc.org", "8867-4", "Heart rate"),
        Subject = new ResourceReference($"Patient/{ownerId}"),
        Effective = new FhirDateTime($"2024-0{1 + i % 9}-1{i % 9}T09:05:00Z"),
        Value = new Quantity(60 + i % 40, "/min") { System = "http://unitsofmeasure.org", Code = "/min" },
    }))).ToArray();
    foreach (var clients in clientCounts)
    {
        await RunAsync("create Observation", clients, bodies.Length, 1, async i =>
        {
            using var response = await http.PostAsync($"{baseUrl}/Observation", JsonBytes(bodies[i]));
            response.EnsureSuccessStatusCode();
        });
    }
}

if (only.Contains("read") && createdIds.Count == 0)
{
    for (var i = 0; i < 200; i++)
    {
        using var response = await http.PostAsync($"{baseUrl}/Patient", Json(serializer.SerializeToString(SamplePatient(i))));
        createdIds.Add(response.EnsureSuccessStatusCode().Headers.Location!.ToString().Split("/Patient/")[1].Split('/')[0]);
    }
}

foreach (var clients in only.Contains("read") ? clientCounts : [])
{
    var random = new Random(7);
    await RunAsync("read Patient by id", clients, (int)(5000 * scale), 1, async i =>
    {
        string id;
        lock (random)
        {
            id = createdIds[random.Next(createdIds.Count)];
        }

        using var response = await http.GetAsync($"{baseUrl}/Patient/{id}");
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync();
    });
}

foreach (var clients in only.Contains("bundle") ? clientCounts : [])
{
    await RunAsync("transaction (100 res)", clients, (int)(60 * scale), 100, async i =>
    {
        var body = serializer.SerializeToString(PatientRecordBundle(i));
        using var response = await http.PostAsync(baseUrl, Json(body));
        response.EnsureSuccessStatusCode();
    });
}

return 0;

int Fail(string message, bool usage = true)
{
    Console.Error.WriteLine($"Tessera.Bench.Store: {message}");
    if (usage)
    {
        Console.Error.WriteLine(Usage);
    }

    return usage ? 2 : 1;
}

async System.Threading.Tasks.Task RunAsync(string name, int clients, int requests, int resourcesPerRequest, Func<int, System.Threading.Tasks.Task> one)
{
    // The runtime keeps compiling optimised code for a server's paths long after they first run (a transaction
    // bundle touches thousands of methods): unwarmed, the compiler's thread took 45 % of the server's CPU during a
    // measured bundle run. Each scenario therefore first runs untimed, with the same bodies, for a while.
    if (warmSeconds > 0)
    {
        var warmUntil = Stopwatch.GetTimestamp() + (long)(warmSeconds * Stopwatch.Frequency);
        var warmed = -1;
        await System.Threading.Tasks.Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
        {
            while (Stopwatch.GetTimestamp() < warmUntil)
            {
                await one(Interlocked.Increment(ref warmed) % requests);
            }
        }));
    }

    var latencies = new double[requests];
    var next = -1;
    var clock = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, clients).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < requests)
        {
            var start = Stopwatch.GetTimestamp();
            await one(i);
            latencies[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
    });
    await System.Threading.Tasks.Task.WhenAll(workers);
    var seconds = clock.Elapsed.TotalSeconds;
    Array.Sort(latencies);
    double P(double q) => latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))];
    Console.WriteLine($"{name,-22} {clients,7} {requests,9} {requests / seconds,9:F0} {requests * resourcesPerRequest / seconds,9:F0} {P(0.5),8:F2} {P(0.95),8:F2}");
}

static StringContent Json(string body)
{
    var content = new StringContent(body, Encoding.UTF8);
    content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json");
    return content;
}

static ByteArrayContent JsonBytes(byte[] body)
{
    var content = new ByteArrayContent(body);
    content.Headers.ContentType = new MediaTypeHeaderValue("application/fhir+json") { CharSet = "utf-8" };
    return content;
}

// Distinct, plausible people: a valid NHS number from the never-issued 999 range, and name, birth date and address
// varying together, so that the patient index links none of them (as it would not link different real people).
static Patient SamplePatient(int i) => new()
{
    Identifier = [new Identifier("https://fhir.nhs.uk/Id/nhs-number", NhsNumber(i))],
    Name = [new HumanName { Family = Families[i % Families.Length] + (i / Families.Length % 7 == 0 ? string.Empty : "-" + Families[(i / Families.Length) % Families.Length]), Given = [Givens[(i * 7) % Givens.Length]] }],
    Gender = i % 2 == 0 ? AdministrativeGender.Female : AdministrativeGender.Male,
    BirthDate = new DateOnly(1930, 1, 1).AddDays((int)((i * 7919L) % 30000)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
    Address = [new Address { Line = [$"{1 + i % 240} {Streets[(i / 240) % Streets.Length]}"], City = "Tessvale", PostalCode = $"TV{1 + i % 9} {i % 10}{(char)('A' + i / 10 % 26)}{(char)('A' + i / 260 % 26)}" }],
};

// 999 + six digits + the modulus 11 check digit; base numbers whose check digit would be 10 are skipped.
static string NhsNumber(int i)
{
    for (var j = 0; ; j++)
    {
        var nine = (999_000_000L + (i * 10L % 1_000_000) + j).ToString(CultureInfo.InvariantCulture);
        var sum = 0;
        for (var d = 0; d < 9; d++)
        {
            sum += (nine[d] - '0') * (10 - d);
        }

        var check = 11 - (sum % 11);
        if (check != 10)
        {
            return nine + (check == 11 ? 0 : check).ToString(CultureInfo.InvariantCulture);
        }
    }
}

// A patient record as a GP or hospital system would send it: a patient, encounters, conditions, observations.
static Bundle PatientRecordBundle(int i)
{
    var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
    var patientUrl = "urn:uuid:" + Guid.NewGuid();
    void Add(Resource r, string fullUrl) => bundle.Entry.Add(new Bundle.EntryComponent
    {
        FullUrl = fullUrl,
        Resource = r,
        Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = r.TypeName },
    });
    Add(SamplePatient(50_000 + i), patientUrl);
    var encounters = new List<string>();
    for (var e = 0; e < 10; e++)
    {
        var url = "urn:uuid:" + Guid.NewGuid();
        encounters.Add(url);
        Add(new Encounter
        {
            Status = Encounter.EncounterStatus.Finished,
            Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"),
            Subject = new ResourceReference(patientUrl),
            Period = new Period { Start = $"2024-0{1 + e % 9}-1{e % 9}T09:00:00Z", End = $"2024-0{1 + e % 9}-1{e % 9}T09:20:00Z" },
        }, url);
    }

    for (var c = 0; c < 9; c++)
    {
        Add(new Condition
        {
            ClinicalStatus = new CodeableConcept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
            Code = new CodeableConcept("http://snomed.info/sct", (38341003 + c).ToString(CultureInfo.InvariantCulture), "Condition " + c),
            Subject = new ResourceReference(patientUrl),
        }, "urn:uuid:" + Guid.NewGuid());
    }

    for (var o = 0; o < 80; o++)
    {
        Add(new Observation
        {
            Status = ObservationStatus.Final,
            Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")],
            Code = new CodeableConcept("http://loinc.org", "8867-4", "Heart rate"),
            Subject = new ResourceReference(patientUrl),
            Encounter = new ResourceReference(encounters[o % encounters.Count]),
            Effective = new FhirDateTime($"2024-0{1 + o % 9}-1{o % 9}T09:05:00Z"),
            Value = new Quantity(60 + o % 40, "/min") { System = "http://unitsofmeasure.org", Code = "/min" },
        }, "urn:uuid:" + Guid.NewGuid());
    }

    return bundle;
}

internal static partial class Program
{
    private static readonly string[] Families = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Thomas", "Clarke", "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes", "Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris", "Khan", "Scott", "Watson", "Davis", "Parker", "James", "Bennett", "Young", "Phillips", "Richardson", "Mitchell"];
    private static readonly string[] Givens = ["Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia", "Grace", "Freya", "Noah", "Oliver", "George", "Arthur", "Muhammad", "Leo", "Harry", "Oscar", "Archie", "Henry", "Theodore", "Freddie", "Jack", "Charlie", "Margaret", "Jean", "Susan", "David", "John", "Michael", "Peter", "Christine", "Patricia", "Brian", "Anne", "Robert", "Elizabeth", "Ian", "Ayesha", "Priya", "Tomasz", "Zofia", "Kwame", "Chloe", "Ethan", "Sienna", "Reuben", "Niamh", "Callum"];
    private static readonly string[] Streets = ["High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Victoria Road", "Green Lane", "Manor Close", "Queens Road", "Kings Drive", "The Crescent", "School Lane", "Orchard Way", "Meadow View", "Bridge Street"];
}
