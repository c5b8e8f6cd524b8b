using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Tessera.Demo;

/// <summary>What <see cref="RegionWriter"/> wrote.</summary>
public sealed record RegionWriteSummary(int OrganisationBundles, int People, int SourcePatients, long Resources, TimeSpan Elapsed);

/// <summary>
/// Writes a generated region to a directory: <c>bundles/*.json</c> (transaction bundles in load order:
/// organisations-NNN.json, then person-NNNNNN.json), <c>ndjson/&lt;Type&gt;.ndjson</c> (every resource once, with
/// in-bundle urn:uuid references rewritten to Type/id as bulk data expects) and <c>truth.csv</c>.
/// People are generated and serialised in parallel batches and written in order, so the output is the same
/// whatever the core count and memory stays flat however many people there are.
/// </summary>
public static partial class RegionWriter
{
    private const int BatchSize = 256;

    public static Task<RegionWriteSummary> WriteAsync(RegionGenerator generator, string outDir, CancellationToken ct = default) =>
        WriteAsync(generator, outDir, progress: null, ct);

    /// <param name="generator">The region to write.</param>
    /// <param name="outDir">Created if missing; existing files of the same names are overwritten.</param>
    /// <param name="progress">Told the number of people written so far after each batch.</param>
    /// <param name="ct">Stops between batches.</param>
    public static async Task<RegionWriteSummary> WriteAsync(RegionGenerator generator, string outDir, IProgress<int>? progress, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentException.ThrowIfNullOrWhiteSpace(outDir);
        var stopwatch = Stopwatch.StartNew();
        var bundleDir = Directory.CreateDirectory(Path.Combine(outDir, "bundles")).FullName;
        var ndjsonDir = Directory.CreateDirectory(Path.Combine(outDir, "ndjson")).FullName;
        var ndjson = new Dictionary<string, StreamWriter>(StringComparer.Ordinal);
        var serializer = new BaseFhirJsonSerializer(ModelInfo.ModelInspector);
        long resources = 0;
        var organisationBundles = 0;
        var sourcePatients = 0;

        try
        {
            await using var truth = new StreamWriter(Path.Combine(outDir, "truth.csv"), append: false, new UTF8Encoding(false));
            await truth.WriteLineAsync(TruthCsv.Header.AsMemory(), ct);

            foreach (var bundle in generator.OrganisationBundles())
            {
                organisationBundles++;
                var serialised = Serialise(serializer, bundle);
                await File.WriteAllTextAsync(Path.Combine(bundleDir, $"organisations-{organisationBundles:000}.json"), serialised.BundleJson, ct);
                resources += await AppendNdjsonAsync(ndjson, ndjsonDir, serialised, ct);
            }

            var total = generator.Options.Patients;
            var batch = new (PersonBundle Person, SerialisedBundle Serialised)[BatchSize];
            for (var start = 0; start < total; start += BatchSize)
            {
                ct.ThrowIfCancellationRequested();
                var count = Math.Min(BatchSize, total - start);
                var first = start;
                Parallel.For(
                    0,
                    count,
                    new ParallelOptions { CancellationToken = ct },
                    () => new BaseFhirJsonSerializer(ModelInfo.ModelInspector),
                    (i, _, localSerializer) =>
                    {
                        var person = generator.GeneratePerson(first + i);
                        batch[i] = (person, Serialise(localSerializer, person.Bundle));
                        return localSerializer;
                    },
                    _ => { });

                for (var i = 0; i < count; i++)
                {
                    var (person, serialised) = batch[i];
                    await File.WriteAllTextAsync(Path.Combine(bundleDir, $"person-{person.Index + 1:000000}.json"), serialised.BundleJson, ct);
                    resources += await AppendNdjsonAsync(ndjson, ndjsonDir, serialised, ct);
                    foreach (var record in person.Truth)
                    {
                        await truth.WriteLineAsync(TruthCsv.Line(record).AsMemory(), ct);
                        sourcePatients++;
                    }

                    batch[i] = default;
                }

                progress?.Report(start + count);
            }
        }
        finally
        {
            foreach (var writer in ndjson.Values)
            {
                await writer.DisposeAsync();
            }
        }

        return new RegionWriteSummary(organisationBundles, generator.Options.Patients, sourcePatients, resources, stopwatch.Elapsed);
    }

    private sealed record SerialisedBundle(string BundleJson, List<(string Type, string Json)> Resources);

    /// <summary>
    /// Serialises each resource once and assembles the bundle around those strings, because the same resource
    /// text is needed both inside the bundle and, with references rewritten, as an NDJSON line.
    /// </summary>
    private static SerialisedBundle Serialise(BaseFhirJsonSerializer serializer, Bundle bundle)
    {
        var types = new Dictionary<string, string>(bundle.Entry.Count, StringComparer.Ordinal);
        foreach (var entry in bundle.Entry)
        {
            types[entry.FullUrl!] = entry.Resource!.TypeName;
        }

        var json = new StringBuilder(bundle.Entry.Count * 900);
        json.Append("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[");
        var lines = new List<(string, string)>(bundle.Entry.Count);
        for (var i = 0; i < bundle.Entry.Count; i++)
        {
            var entry = bundle.Entry[i];
            var resource = entry.Resource!;
            var resourceJson = serializer.SerializeToString(resource);
            if (i > 0)
            {
                json.Append(',');
            }

            json.Append("{\"fullUrl\":\"").Append(entry.FullUrl).Append("\",\"resource\":").Append(resourceJson)
                .Append(",\"request\":{\"method\":\"").Append(entry.Request!.Method!.Value.ToString().ToUpperInvariant())
                .Append("\",\"url\":\"").Append(entry.Request.Url).Append("\"}}");
            var line = UrnReference().Replace(resourceJson, m =>
                types.TryGetValue(m.Groups[1].Value, out var type)
                    ? $"\"reference\":\"{type}/{m.Groups[1].Value["urn:uuid:".Length..]}\""
                    : m.Value);
            lines.Add((resource.TypeName, line));
        }

        json.Append("]}");
        return new SerialisedBundle(json.ToString(), lines);
    }

    private static async Task<int> AppendNdjsonAsync(Dictionary<string, StreamWriter> writers, string dir, SerialisedBundle bundle, CancellationToken ct)
    {
        foreach (var (type, json) in bundle.Resources)
        {
            if (!writers.TryGetValue(type, out var writer))
            {
                writer = new StreamWriter(Path.Combine(dir, $"{type}.ndjson"), append: false, new UTF8Encoding(false), bufferSize: 1 << 16);
                writers[type] = writer;
            }

            await writer.WriteLineAsync(json.AsMemory(), ct);
        }

        return bundle.Resources.Count;
    }

    [GeneratedRegex("\"reference\":\"(urn:uuid:[0-9a-f-]{36})\"", RegexOptions.CultureInvariant)]
    private static partial Regex UrnReference();
}

/// <summary>The truth file: one line per source Patient record, naming the true person it belongs to.</summary>
internal static class TruthCsv
{
    public const string Header = "source_patient_id,person_id,source,identifier_system,identifier_value,faults";

    public static string Line(TruthRecord record) =>
        string.Join(',', record.SourcePatientId, record.PersonId, Source(record.Source), record.IdentifierSystem, record.IdentifierValue, Faults(record.Faults));

    public static string Source(SourceSystem source) => source switch
    {
        SourceSystem.GeneralPractice => "gp",
        SourceSystem.Hospital => "hospital",
        SourceSystem.SocialCare => "social-care",
        _ => throw new ArgumentOutOfRangeException(nameof(source)),
    };

    /// <summary>Fault names joined by ';' so the column needs no CSV quoting.</summary>
    public static string Faults(DataQualityFault faults) =>
        string.Join(';', Enum.GetValues<DataQualityFault>().Where(f => f != DataQualityFault.None && faults.HasFlag(f)).Select(f => f switch
        {
            DataQualityFault.Typo => "typo",
            DataQualityFault.MissingNhsNumber => "missing-nhs-number",
            DataQualityFault.TransposedBirthDate => "transposed-birth-date",
            DataQualityFault.ChangedSurname => "changed-surname",
            DataQualityFault.OldAddress => "old-address",
            _ => f.ToString(),
        }));
}
