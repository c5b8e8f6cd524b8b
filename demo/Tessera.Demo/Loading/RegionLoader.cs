using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Storage;

namespace Tessera.Demo.Loading;

/// <summary>What loading a region wrote.</summary>
public sealed record RegionLoadSummary(int People, long Resources, int FailedBundles, IReadOnlyList<string> Failures);

/// <summary>
/// Loads a generated region into the store through the same transaction processing every client uses:
/// organisations first, then one transaction bundle per person.
/// </summary>
public static class RegionLoader
{
    public static async Task<RegionLoadSummary> LoadAsync(FhirStore store, RegionGenerator generator, IProgress<int>? progress, CancellationToken ct = default)
    {
        long resources = 0;
        var failures = new List<string>();
        foreach (var bundle in generator.OrganisationBundles())
        {
            resources += await SendAsync(store, bundle, "organisations", failures, ct);
        }

        // SQLite has one writer; PostgreSQL takes several transactions at once.
        var parallel = store.Location.Kind == DatabaseKind.Postgres ? 4 : 1;
        var people = 0;
        await Parallel.ForEachAsync(generator.People(), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = ct }, async (person, token) =>
        {
            var written = await SendAsync(store, person.Bundle, person.PersonId, failures, token);
            Interlocked.Add(ref resources, written);
            progress?.Report(Interlocked.Increment(ref people));
        });
        return new RegionLoadSummary(people, resources, failures.Count, failures);
    }

    private static async Task<long> SendAsync(FhirStore store, Bundle bundle, string label, List<string> failures, CancellationToken ct)
    {
        var response = await store.ExecuteAsync(new FhirRequest { Method = "POST", Path = string.Empty, Resource = bundle }, ct);
        if (response.Resource is Bundle result)
        {
            return result.Entry.Count;
        }

        lock (failures)
        {
            failures.Add($"{label}: {string.Join("; ", response.Outcome?.Issue.Select(i => i.Diagnostics) ?? [])}");
        }

        return 0;
    }
}
