using System.Formats.Tar;
using System.IO.Compression;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Corpus;

/// <summary>Synthea R4 patient bundles (transactions), read straight from the shared corpus archive.</summary>
internal static class SyntheaCorpus
{
    /// <summary>The <paramref name="count"/> smallest one-patient bundles, smallest first, so tests stay fast and deterministic.</summary>
    public static IReadOnlyList<(string Name, string Json)> SmallestPatients(int count)
    {
        var path = Path.Combine(Corpora.Root, "synthea-r4", "synthea-r4-bundles.tgz");
        var sizes = new List<(string Name, long Length)>();
        ForEachEntry(path, entry => sizes.Add((entry.Name, entry.Length)));
        var wanted = sizes.Where(s => s.Name.EndsWith(".json", StringComparison.Ordinal) && !s.Name.Contains("Information", StringComparison.Ordinal))
            .OrderBy(s => s.Length).ThenBy(s => s.Name, StringComparer.Ordinal).Take(count).Select(s => s.Name).ToHashSet(StringComparer.Ordinal);
        var result = new List<(string Name, string Json)>();
        ForEachEntry(path, entry =>
        {
            if (wanted.Contains(entry.Name))
            {
                using var reader = new StreamReader(entry.DataStream!);
                result.Add((Path.GetFileName(entry.Name), reader.ReadToEnd()));
            }
        });
        return [.. result.OrderBy(r => r.Json.Length)];
    }

    private static void ForEachEntry(string path, Action<TarEntry> action)
    {
        using var file = File.OpenRead(path);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gzip);
        while (tar.GetNextEntry() is { } entry)
        {
            if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile)
            {
                action(entry);
            }
        }
    }
}
