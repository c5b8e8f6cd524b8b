using Hl7.Fhir.Serialization;

namespace Tessera.Demo.Tests;

public sealed class RegionWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tessera-demo-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Writes_bundles_ndjson_and_truth()
    {
        var generator = new RegionGenerator(new RegionOptions { Patients = 120, Seed = 11 });
        var reported = new List<int>();
        var summary = await RegionWriter.WriteAsync(generator, _dir, new SynchronousProgress(reported.Add));

        Assert.Equal(120, summary.People);
        Assert.Equal(120, Directory.GetFiles(Path.Combine(_dir, "bundles"), "person-*.json").Length);
        Assert.Equal(summary.OrganisationBundles, Directory.GetFiles(Path.Combine(_dir, "bundles"), "organisations-*.json").Length);
        Assert.Equal(120, reported[^1]);

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

    [Fact]
    public async Task Writes_only_ndjson_when_asked_and_the_lines_match_the_bundles()
    {
        var generator = new RegionGenerator(new RegionOptions { Patients = 30, Seed = 12 });
        var summary = await RegionWriter.WriteAsync(generator, _dir, null, RegionOutput.Ndjson);

        Assert.False(Directory.Exists(Path.Combine(_dir, "bundles")));
        Assert.True(File.Exists(Path.Combine(_dir, "truth.csv")));
        var parser = new FhirJsonDeserializer();
        var written = Directory.GetFiles(Path.Combine(_dir, "ndjson"))
            .SelectMany(File.ReadLines)
            .Select(line => parser.DeserializeResource(line))
            .ToDictionary(r => $"{r.TypeName}/{r.Id}");
        Assert.Equal(summary.Resources, written.Count);

        // Each NDJSON line is the bundle's resource with urn:uuid references turned into Type/id.
        var person = generator.GeneratePerson(7);
        foreach (var entry in person.Bundle.Entry)
        {
            var expected = RegionSample.Json(entry.Resource!);
            foreach (var other in person.Bundle.Entry)
            {
                expected = expected.Replace($"\"reference\":\"{other.FullUrl}\"", $"\"reference\":\"{other.Request.Url}\"", StringComparison.Ordinal);
            }

            Assert.Equal(expected, RegionSample.Json(written[entry.Request.Url]));
        }

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => RegionWriter.WriteAsync(generator, _dir, null, (RegionOutput)0));
    }

    private sealed class SynchronousProgress(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
