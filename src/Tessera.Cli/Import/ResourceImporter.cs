using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;

namespace Tessera.Cli.Import;

/// <summary>
/// Reads resources from files and writes them through the store. A resource with an id is written with
/// update-as-create so its id, and references to it, are kept; a transaction or batch bundle is processed as
/// one; any other bundle's entries are imported one by one.
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

    public async System.Threading.Tasks.Task ImportFileAsync(string file, ImportReport report, CancellationToken ct)
    {
        if (file.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase))
        {
            var line = 0;
            foreach (var text in File.ReadLines(file))
            {
                line++;
                if (!string.IsNullOrWhiteSpace(text))
                {
                    await ImportTextAsync(text, $"{Path.GetFileName(file)}:{line}", report, ct);
                }
            }

            return;
        }

        await ImportTextAsync(await File.ReadAllTextAsync(file, ct), Path.GetFileName(file), report, ct);
    }

    private async System.Threading.Tasks.Task ImportTextAsync(string text, string source, ImportReport report, CancellationToken ct)
    {
        Resource resource;
        try
        {
            resource = FhirSerialization.ParseJson(text);
        }
        catch (FhirException e)
        {
            report.Reject(source, "Resource", e.Message);
            return;
        }

        await ImportResourceAsync(resource, source, report, ct);
    }

    public async System.Threading.Tasks.Task ImportResourceAsync(Resource resource, string source, ImportReport report, CancellationToken ct)
    {
        if (resource is Bundle { Type: Bundle.BundleType.Transaction or Bundle.BundleType.Batch } bundle)
        {
            var response = await store.ExecuteAsync(new FhirRequest { Method = "POST", Path = string.Empty, Resource = bundle }, ct);
            if (response.Resource is Bundle result)
            {
                for (var i = 0; i < result.Entry.Count; i++)
                {
                    var entry = result.Entry[i];
                    var type = bundle.Entry.ElementAtOrDefault(i)?.Resource?.TypeName ?? "Bundle entry";
                    var status = entry.Response?.Status ?? string.Empty;
                    if (status.StartsWith("201", StringComparison.Ordinal))
                    {
                        report.Created(type);
                    }
                    else if (status.StartsWith('2'))
                    {
                        report.Updated(type);
                    }
                    else
                    {
                        report.Reject($"{source} entry {i}", type, Describe(entry.Response?.Outcome as OperationOutcome) ?? status);
                    }
                }
            }
            else
            {
                report.Reject(source, "Bundle", Describe(response.Outcome) ?? $"HTTP {response.Status}");
            }

            return;
        }

        if (resource is Bundle other)
        {
            for (var i = 0; i < other.Entry.Count; i++)
            {
                if (other.Entry[i].Resource is { } inner)
                {
                    await ImportResourceAsync(inner, $"{source} entry {i}", report, ct);
                }
            }

            return;
        }

        var request = resource.Id is { Length: > 0 } id
            ? new FhirRequest { Method = "PUT", Path = $"{resource.TypeName}/{id}", Resource = resource }
            : new FhirRequest { Method = "POST", Path = resource.TypeName, Resource = resource };
        var outcome = await store.ExecuteAsync(request, ct);
        switch (outcome.Status)
        {
            case 201:
                report.Created(resource.TypeName);
                break;
            case 200:
                report.Updated(resource.TypeName);
                break;
            default:
                report.Reject(source, resource.TypeName, Describe(outcome.Outcome) ?? $"HTTP {outcome.Status}");
                break;
        }
    }

    private static string? Describe(OperationOutcome? outcome) =>
        outcome is null ? null : string.Join("; ", outcome.Issue.Select(i => i.Diagnostics ?? i.Code?.ToString()));
}
