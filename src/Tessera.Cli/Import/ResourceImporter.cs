using System.Runtime.CompilerServices;
using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Bulk;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;

namespace Tessera.Cli.Import;

/// <summary>
/// Reads resources from files and writes them through the store's bulk path. A resource with an id is written
/// with update-as-create so its id, and references to it, are kept; a transaction or batch bundle is processed
/// as one; any other bundle's entries are imported one by one.
/// </summary>
internal sealed class ResourceImporter(FhirStore store)
{
    public static List<string> Expand(IEnumerable<string> paths, out List<string> missing)
    {
        missing = [];
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path))
            {
                files.AddRange(Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(IsImportable).Order(StringComparer.Ordinal));
            }
            else if (File.Exists(path))
            {
                files.Add(path);
            }
            else
            {
                missing.Add(path);
            }
        }

        return files;
    }

    private static bool IsImportable(string file) =>
        file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || file.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Imports the files through the store's bulk path (<see cref="FhirStore.BulkLoadAsync"/>): many bundles per
    /// database transaction, with anything it does not take itself (batches, conditional entries) processed the
    /// normal way. <paramref name="fileDone"/> is told of each file once it has been read.
    /// </summary>
    public async System.Threading.Tasks.Task ImportAsync(IReadOnlyList<string> files, ImportReport report, Action<string> fileDone, CancellationToken ct)
    {
        var summary = await store.BulkLoadAsync(Items(files, report, fileDone, ct), ct: ct);
        foreach (var (type, (created, updated)) in summary.ByType)
        {
            report.Add(type, created, updated);
        }

        foreach (var failure in summary.Failures)
        {
            report.Reject(failure.Label, "Bundle", failure.Reason);
        }
    }

    private static async IAsyncEnumerable<BulkItem> Items(IReadOnlyList<string> files, ImportReport report, Action<string> fileDone, [EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var file in files)
        {
            if (file.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase))
            {
                var line = 0;
                await foreach (var text in File.ReadLinesAsync(file, ct))
                {
                    line++;
                    if (!string.IsNullOrWhiteSpace(text))
                    {
                        foreach (var item in ItemsOf(text, $"{Path.GetFileName(file)}:{line}", report))
                        {
                            yield return item;
                        }
                    }
                }
            }
            else
            {
                foreach (var item in ItemsOf(await File.ReadAllTextAsync(file, ct), Path.GetFileName(file), report))
                {
                    yield return item;
                }
            }

            fileDone(file);
        }
    }

    private static IEnumerable<BulkItem> ItemsOf(string text, string source, ImportReport report)
    {
        Resource resource;
        try
        {
            resource = FhirSerialization.ParseJson(text);
        }
        catch (FhirException e)
        {
            report.Reject(source, "Resource", e.Message);
            return [];
        }

        return ItemsOf(resource, source);
    }

    /// <summary>
    /// A transaction or batch bundle is processed as one; any other bundle's entries one by one; a single resource
    /// as a one-entry transaction: update-as-create when it has an id (so its id, and references to it, are kept),
    /// else a create.
    /// </summary>
    private static IEnumerable<BulkItem> ItemsOf(Resource resource, string source)
    {
        if (resource is Bundle { Type: Bundle.BundleType.Transaction or Bundle.BundleType.Batch } bundle)
        {
            yield return new BulkItem(bundle, source);
            yield break;
        }

        if (resource is Bundle other)
        {
            for (var i = 0; i < other.Entry.Count; i++)
            {
                if (other.Entry[i].Resource is { } inner)
                {
                    foreach (var item in ItemsOf(inner, $"{source} entry {i}"))
                    {
                        yield return item;
                    }
                }
            }

            yield break;
        }

        var single = new Bundle { Type = Bundle.BundleType.Transaction };
        single.Entry.Add(new Bundle.EntryComponent
        {
            Resource = resource,
            Request = resource.Id is { Length: > 0 } id
                ? new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{resource.TypeName}/{id}" }
                : new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = resource.TypeName },
        });
        yield return new BulkItem(single, source);
    }
}
