using System.Formats.Tar;
using System.IO.Compression;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Corpus;

/// <summary>The official FHIR R4 examples (npm package hl7.fhir.r4.examples), read straight from the package.</summary>
internal static class ExampleCorpus
{
    private static readonly Lazy<IReadOnlyList<(string Name, string Json)>> Examples = new(Load);

    public static IReadOnlyList<(string Name, string Json)> All => Examples.Value;

    /// <summary>The examples parsed as the store parses what clients send, leaving out those it refuses.</summary>
    public static IEnumerable<(string Name, Resource Resource)> Parsed(IEnumerable<(string Name, string Json)> examples)
    {
        foreach (var (name, json) in examples)
        {
            Resource resource;
            try
            {
                resource = FhirSerialization.ParseJson(json);
            }
            catch (FhirException)
            {
                continue;
            }

            yield return (name, resource);
        }
    }

    private static List<(string Name, string Json)> Load()
    {
        var path = Path.Combine(Corpora.Root, "fhir-r4-examples", "hl7.fhir.r4.examples-4.0.1.tgz");
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        var result = new List<(string, string)>();
        while (tar.GetNextEntry() is { } entry)
        {
            var name = entry.Name;
            if (entry.DataStream is null || !name.EndsWith(".json", StringComparison.Ordinal) || name.EndsWith("package.json", StringComparison.Ordinal) || name.Contains(".index.", StringComparison.Ordinal))
            {
                continue;
            }

            using var reader = new StreamReader(entry.DataStream);
            result.Add((Path.GetFileName(name), reader.ReadToEnd()));
        }

        return result.OrderBy(r => r.Item1, StringComparer.Ordinal).ToList();
    }
}
