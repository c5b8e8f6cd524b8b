using System.Runtime.CompilerServices;
using Tessera.RecordStore;
using Tessera.RecordStore.Bulk;

namespace Tessera.Demo.Loading;

/// <summary>What loading a region wrote, and where the time went (<see cref="Generating"/> is CPU time summed over threads).</summary>
public sealed record RegionLoadSummary(int People, long Resources, int FailedBundles, IReadOnlyList<string> Failures, TimeSpan Generating, BulkLoadSummary Load);

/// <summary>
/// Loads a generated region into the store through its bulk path (<see cref="FhirStore.BulkLoadAsync"/>):
/// organisations first, then one transaction bundle per person. People are generated in parallel but handed
/// over in index order, and each depends only on the seed and their index, so the region written is the same
/// whatever the degree of parallelism; only a few bundles per thread are in memory at once.
/// </summary>
public static class RegionLoader
{
    public static async Task<RegionLoadSummary> LoadAsync(FhirStore store, RegionGenerator generator, IProgress<int>? progress, CancellationToken ct = default, int? parallelism = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(generator);
        var degree = Math.Max(1, parallelism ?? Environment.ProcessorCount);
        var organisations = generator.OrganisationBundles().Count();
        var generating = new long[1];
        var report = progress is null ? null : new Progress<BulkLoadProgress>(p => progress.Report((int)Math.Max(0, p.Bundles - organisations)));
        var load = await store.BulkLoadAsync(Items(generator, degree, generating, ct), new BulkLoadOptions { Parallelism = degree }, report, ct);
        var failures = load.Failures.Select(f => $"{f.Label}: {f.Reason}").ToList();
        return new RegionLoadSummary((int)Math.Max(0, load.Bundles - organisations), load.Resources, failures.Count, failures, TimeSpan.FromTicks(generating[0]), load);
    }

    /// <summary>The organisation bundles, then each person's, generated up to <paramref name="degree"/> × 2 ahead on the thread pool.</summary>
    private static async IAsyncEnumerable<BulkItem> Items(RegionGenerator generator, int degree, long[] generating, [EnumeratorCancellation] CancellationToken ct)
    {
        foreach (var bundle in generator.OrganisationBundles())
        {
            yield return new BulkItem(bundle, "organisations");
        }

        var window = new Queue<Task<BulkItem>>();
        for (var i = 0; i < generator.Options.Patients; i++)
        {
            var index = i;
            window.Enqueue(Task.Run(() =>
            {
                var person = ThreadClock.Measure(() => generator.GeneratePerson(index), ref generating[0]);
                return new BulkItem(person.Bundle, person.PersonId);
            }, ct));
            if (window.Count >= degree * 2)
            {
                yield return await window.Dequeue();
            }
        }

        while (window.Count > 0)
        {
            yield return await window.Dequeue();
        }
    }
}
