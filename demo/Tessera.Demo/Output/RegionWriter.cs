using System.Buffers;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Tessera.Demo;

/// <summary>What <see cref="RegionWriter"/> wrote.</summary>
public sealed record RegionWriteSummary(int OrganisationBundles, int People, int SourcePatients, long Resources, long Bytes, TimeSpan Elapsed);

/// <summary>Which files <see cref="RegionWriter"/> writes besides the truth file.</summary>
[Flags]
public enum RegionOutput
{
    /// <summary>Transaction bundles, one per person, to POST to a FHIR server.</summary>
    Bundles = 1,

    /// <summary>NDJSON, one file per resource type, as bulk data import reads it.</summary>
    Ndjson = 2,

    Both = Bundles | Ndjson,
}

/// <summary>
/// Writes a generated region to a directory: <c>bundles/*.json</c> (transaction bundles in load order:
/// organisations-NNN.json, then person-NNNNNN.json), <c>ndjson/&lt;Type&gt;.ndjson</c> (every resource once, with
/// in-bundle urn:uuid references rewritten to Type/id as bulk data expects) and <c>truth.csv</c>.
/// People are generated and serialised in parallel batches, the next batch while the last one is written, and
/// written in order: the output is the same whatever the core count, and memory holds two batches however many
/// people there are. Each resource is serialised once (Firely's System.Text.Json POCO serializer, straight to
/// UTF-8) and the bundle and its NDJSON lines are assembled from those bytes.
/// </summary>
public static class RegionWriter
{
    private const int BatchSize = 256;

    private static readonly UTF8Encoding Utf8 = new(false);

    public static Task<RegionWriteSummary> WriteAsync(RegionGenerator generator, string outDir, CancellationToken ct = default) =>
        WriteAsync(generator, outDir, progress: null, RegionOutput.Both, ct);

    public static Task<RegionWriteSummary> WriteAsync(RegionGenerator generator, string outDir, IProgress<int>? progress, CancellationToken ct = default) =>
        WriteAsync(generator, outDir, progress, RegionOutput.Both, ct);

    /// <param name="generator">The region to write.</param>
    /// <param name="outDir">Created if missing; existing files of the same names are overwritten.</param>
    /// <param name="progress">Told the number of people written so far after each batch.</param>
    /// <param name="output">Bundles, NDJSON or both; the truth file is always written.</param>
    /// <param name="ct">Stops between batches.</param>
    public static async Task<RegionWriteSummary> WriteAsync(RegionGenerator generator, string outDir, IProgress<int>? progress, RegionOutput output, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentException.ThrowIfNullOrWhiteSpace(outDir);
        if ((output & RegionOutput.Both) == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(output), output, "Write bundles, NDJSON or both.");
        }

        var stopwatch = Stopwatch.StartNew();
        var writeBundles = output.HasFlag(RegionOutput.Bundles);
        var writeNdjson = output.HasFlag(RegionOutput.Ndjson);
        var bundleDir = writeBundles ? Directory.CreateDirectory(Path.Combine(outDir, "bundles")).FullName : null;
        var ndjsonDir = writeNdjson ? Directory.CreateDirectory(Path.Combine(outDir, "ndjson")).FullName : null;
        var ndjson = new Dictionary<string, Stream>(StringComparer.Ordinal);
        long resources = 0;
        long bytes = 0;
        var organisationBundles = 0;
        var sourcePatients = 0;

        try
        {
            await using var truth = new StreamWriter(Path.Combine(outDir, "truth.csv"), append: false, Utf8);
            await truth.WriteLineAsync(TruthCsv.Header.AsMemory(), ct);

            foreach (var bundle in generator.OrganisationBundles())
            {
                organisationBundles++;
                using var serialised = BundleSerializer.ForThisThread().Serialise(bundle, writeBundles, writeNdjson);
                bytes += await WriteBundleAsync(bundleDir, $"organisations-{organisationBundles:000}.json", serialised, ct);
                bytes += await AppendNdjsonAsync(ndjson, ndjsonDir, serialised, ct);
                resources += serialised.Count;
            }

            var total = generator.Options.Patients;
            var next = total > 0 ? Produce(generator, 0, Math.Min(BatchSize, total), writeBundles, writeNdjson, ct) : null;
            for (var start = 0; start < total; start += BatchSize)
            {
                var batch = await next!;
                var following = start + BatchSize;
                next = following < total ? Produce(generator, following, Math.Min(BatchSize, total - following), writeBundles, writeNdjson, ct) : null;
                foreach (var (person, serialised) in batch)
                {
                    using var owned = serialised;
                    bytes += await WriteBundleAsync(bundleDir, $"person-{person.Index + 1:000000}.json", serialised, ct);
                    bytes += await AppendNdjsonAsync(ndjson, ndjsonDir, serialised, ct);
                    resources += serialised.Count;
                    foreach (var record in person.Truth)
                    {
                        await truth.WriteLineAsync(TruthCsv.Line(record).AsMemory(), ct);
                        sourcePatients++;
                    }
                }

                progress?.Report(start + batch.Length);
            }
        }
        finally
        {
            foreach (var stream in ndjson.Values)
            {
                await stream.DisposeAsync();
            }
        }

        return new RegionWriteSummary(organisationBundles, generator.Options.Patients, sourcePatients, resources, bytes, stopwatch.Elapsed);
    }

    /// <summary>Generates and serialises people [first, first + count) on the thread pool.</summary>
    private static System.Threading.Tasks.Task<(PersonBundle Person, SerialisedBundle Serialised)[]> Produce(RegionGenerator generator, int first, int count, bool bundles, bool ndjson, CancellationToken ct) =>
        System.Threading.Tasks.Task.Run(
            () =>
            {
                var batch = new (PersonBundle, SerialisedBundle)[count];
                Parallel.For(0, count, new ParallelOptions { CancellationToken = ct }, i =>
                {
                    var person = generator.GeneratePerson(first + i);
                    batch[i] = (person, BundleSerializer.ForThisThread().Serialise(person.Bundle, bundles, ndjson));
                });
                return batch;
            },
            ct);

    private static async Task<long> WriteBundleAsync(string? dir, string name, SerialisedBundle bundle, CancellationToken ct)
    {
        if (dir is null)
        {
            return 0;
        }

        await using (var file = new FileStream(Path.Combine(dir, name), FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            await file.WriteAsync(bundle.BundleJson, ct);
        }

        return bundle.BundleJson.Length;
    }

    private static async Task<long> AppendNdjsonAsync(Dictionary<string, Stream> streams, string? dir, SerialisedBundle bundle, CancellationToken ct)
    {
        if (dir is null)
        {
            return 0;
        }

        long written = 0;
        foreach (var (type, line) in bundle.Lines)
        {
            if (!streams.TryGetValue(type, out var stream))
            {
                stream = new FileStream(Path.Combine(dir, $"{type}.ndjson"), FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1 << 16, useAsync: true);
                streams[type] = stream;
            }

            await stream.WriteAsync(line, ct);
            written += line.Length;
        }

        return written;
    }
}

/// <summary>
/// A person's (or an organisation chunk's) transaction bundle and NDJSON lines as UTF-8, in one array rented
/// from the shared pool (the bundle first, then the lines); <see cref="Dispose"/> gives it back.
/// </summary>
internal sealed class SerialisedBundle(byte[] buffer, int bundleLength, List<(string Type, int Offset, int Length)> lines, int count) : IDisposable
{
    public ReadOnlyMemory<byte> BundleJson => buffer.AsMemory(0, bundleLength);

    public IEnumerable<(string Type, ReadOnlyMemory<byte> Line)> Lines => lines.Select(l => (l.Type, (ReadOnlyMemory<byte>)buffer.AsMemory(l.Offset, l.Length)));

    public int Count => count;

    public void Dispose() => ArrayPool<byte>.Shared.Return(buffer);
}

/// <summary>
/// Serialises each resource of a transaction bundle once and assembles both the bundle and the NDJSON lines
/// from those bytes; NDJSON lines get their in-bundle <c>urn:uuid:</c> references rewritten to <c>Type/id</c>.
/// One per thread (<see cref="ForThisThread"/>): its buffers are reused from person to person, which keeps the
/// garbage collector out of the way.
/// </summary>
internal sealed class BundleSerializer
{
    private const int UuidLength = 36;

    private static readonly byte[] ReferencePrefix = "\"reference\":\"urn:uuid:"u8.ToArray();

    [ThreadStatic]
    private static BundleSerializer? _threadInstance;

    private readonly BaseFhirJsonSerializer _serializer = new(ModelInfo.ModelInspector);
    private readonly ArrayBufferWriter<byte> _resource = new(16 * 1024);
    private readonly ArrayBufferWriter<byte> _bundle = new(512 * 1024);
    private readonly ArrayBufferWriter<byte> _lines = new(512 * 1024);
    private readonly Utf8JsonWriter _writer;

    private BundleSerializer()
    {
        _writer = new Utf8JsonWriter(_resource, new JsonWriterOptions { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public static BundleSerializer ForThisThread() => _threadInstance ??= new BundleSerializer();

    public SerialisedBundle Serialise(Bundle bundle, bool includeBundle, bool includeLines)
    {
        var types = new Dictionary<string, string>(bundle.Entry.Count, StringComparer.Ordinal);
        foreach (var entry in bundle.Entry)
        {
            types[entry.FullUrl!["urn:uuid:".Length..]] = entry.Resource!.TypeName;
        }

        _bundle.ResetWrittenCount();
        _lines.ResetWrittenCount();
        var segments = new List<(string Type, int Offset, int Length)>(includeLines ? bundle.Entry.Count : 0);
        if (includeBundle)
        {
            Append(_bundle, "{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":["u8);
        }

        for (var i = 0; i < bundle.Entry.Count; i++)
        {
            var entry = bundle.Entry[i];
            var resource = entry.Resource!;
            _resource.ResetWrittenCount();
            _writer.Reset(_resource);
            _serializer.Serialize(resource, _writer);
            _writer.Flush();
            var json = _resource.WrittenSpan;
            if (includeBundle)
            {
                if (i > 0)
                {
                    Append(_bundle, ","u8);
                }

                Append(_bundle, "{\"fullUrl\":\""u8);
                Append(_bundle, entry.FullUrl!);
                Append(_bundle, "\",\"resource\":"u8);
                Append(_bundle, json);
                Append(_bundle, ",\"request\":{\"method\":\""u8);
                Append(_bundle, entry.Request!.Method!.Value.ToString().ToUpperInvariant());
                Append(_bundle, "\",\"url\":\""u8);
                Append(_bundle, entry.Request.Url!);
                Append(_bundle, "\"}}"u8);
            }

            if (includeLines)
            {
                var offset = _lines.WrittenCount;
                AppendLine(json, types);
                segments.Add((resource.TypeName, offset, _lines.WrittenCount - offset));
            }
        }

        if (includeBundle)
        {
            Append(_bundle, "]}"u8);
        }

        var bundleLength = _bundle.WrittenCount;
        var buffer = ArrayPool<byte>.Shared.Rent(bundleLength + _lines.WrittenCount);
        _bundle.WrittenSpan.CopyTo(buffer);
        _lines.WrittenSpan.CopyTo(buffer.AsSpan(bundleLength));
        for (var i = 0; i < segments.Count; i++)
        {
            segments[i] = (segments[i].Type, segments[i].Offset + bundleLength, segments[i].Length);
        }

        return new SerialisedBundle(buffer, bundleLength, segments, bundle.Entry.Count);
    }

    /// <summary>The resource with each <c>"reference":"urn:uuid:X"</c> to an entry of the bundle rewritten to <c>Type/X</c>, and a newline.</summary>
    private void AppendLine(ReadOnlySpan<byte> json, Dictionary<string, string> types)
    {
        Span<char> uuid = stackalloc char[UuidLength];
        var lookup = types.GetAlternateLookup<ReadOnlySpan<char>>();
        while (true)
        {
            var at = json.IndexOf(ReferencePrefix);
            if (at < 0 || json.Length < at + ReferencePrefix.Length + UuidLength)
            {
                break;
            }

            var uuidStart = at + ReferencePrefix.Length;
            Encoding.ASCII.GetChars(json.Slice(uuidStart, UuidLength), uuid);
            if (lookup.TryGetValue(uuid, out var type))
            {
                Append(_lines, json[..(at + "\"reference\":\""u8.Length)]);
                Append(_lines, type);
                Append(_lines, "/"u8);
            }
            else
            {
                Append(_lines, json[..uuidStart]);
            }

            json = json[uuidStart..];
        }

        Append(_lines, json);
        Append(_lines, "\n"u8);
    }

    private static void Append(ArrayBufferWriter<byte> buffer, ReadOnlySpan<byte> bytes) => buffer.Write(bytes);

    private static void Append(ArrayBufferWriter<byte> buffer, string text)
    {
        var span = buffer.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        buffer.Advance(Encoding.UTF8.GetBytes(text, span));
    }
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
