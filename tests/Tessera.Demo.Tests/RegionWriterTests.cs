using Hl7.Fhir.Serialization;

namespace Tessera.Demo.Tests;

public sealed class RegionWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-demo-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Writes_bundles_ndjson_and_truth()
    {
        var generator = new RegionGenerator(new RegionOptions { Patients = 300, Seed = 11 });
        var reported = new List<int>();
        var summary = await RegionWriter.WriteAsync(generator, _dir, new SynchronousProgress(reported.Add));

        Assert.Equal(300, summary.People);
        Assert.Equal(300, Directory.GetFiles(Path.Combine(_dir, "bundles"), "person-*.json").Length);
        Assert.Equal(summary.OrganisationBundles, Directory.GetFiles(Path.Combine(_dir, "bundles"), "organisations-*.json").Length);
        Assert.Equal(300, reported[^1]);

        var truth = await File.ReadAllLinesAsync(Path.Combine(_dir, "truth.csv"));
        Assert.Equal("source_patient_id,person_id,source,identifier_system,identifier_value,faults", truth[0]);
        Assert.Equal(summary.SourcePatients + 1, truth.Length);

        var patients = await File.ReadAllLinesAsync(Path.Combine(_dir, "ndjson", "Patient.ndjson"));
        Assert.Equal(summary.SourcePatients, patients.Length);
        var truthIds = truth.Skip(1).Select(l => l.Split(',')[0]).ToHashSet();
        Assert.All(patients, line => Assert.Contains(line[(line.IndexOf("\"id\":\"", StringComparison.Ordinal) + 6)..][..36], truthIds));

        var lines = 0L;
        foreach (var file in Directory.GetFiles(Path.Combine(_dir, "ndjson")))
        {
            var content = await File.ReadAllLinesAsync(file);
            lines += content.Length;
            Assert.All(content, l => Assert.DoesNotContain("urn:uuid:", l));
        }

        Assert.Equal(summary.Resources, lines);

        var bundle = new Hl7.Fhir.Serialization.FhirJsonDeserializer().DeserializeResource(await File.ReadAllTextAsync(Path.Combine(_dir, "bundles", "person-000001.json")));
        Assert.Equal(RegionSample.Json(generator.GeneratePerson(0).Bundle), RegionSample.Json(bundle));
    }

    private sealed class SynchronousProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
