using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Tests.Infrastructure;
using Tessera.Testing;
using Xunit.Abstractions;

namespace Tessera.RecordStore.Tests.Corpus;

/// <summary>
/// Every official R4 example the Firely parser accepts is written, read back and compared for semantic
/// equality (server-owned meta aside); the transaction and batch bundles among them are processed.
/// </summary>
public class ExampleRoundTripTests(ITestOutputHelper output)
{
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Every_accepted_example_round_trips_and_bundles_are_processed(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var rejected = new List<(string Name, string Reason)>();
        var written = new List<(string Name, Resource Original, string Type, string Id)>();
        var bundleEntries = new Dictionary<string, int>(StringComparer.Ordinal);
        var processedBundles = 0;
        var failedBundles = new List<(string Name, string Reason)>();

        // Plain resources first, in parallel where the backend allows it; bundles after, since they refer to them.
        var parsed = new List<(string Name, Resource Resource)>();
        foreach (var (name, json) in ExampleCorpus.All)
        {
            try
            {
                parsed.Add((name, FhirSerialization.ParseJson(json)));
            }
            catch (FhirException e)
            {
                rejected.Add((name, e.Message));
            }
        }

        var plain = parsed.Where(p => p.Resource is not Bundle { Type: Bundle.BundleType.Transaction or Bundle.BundleType.Batch }).ToList();
        var writeFailures = new List<(string Name, string Reason)>();
        await Parallel.ForEachAsync(plain, new ParallelOptions { MaxDegreeOfParallelism = backend == "postgres" ? 4 : 1 }, async (item, ct) =>
        {
            var original = FhirSerialization.ParseJson(FhirSerialization.ToJson(item.Resource));
            var request = item.Resource.Id is { Length: > 0 } id
                ? new FhirRequest { Method = "PUT", Path = $"{item.Resource.TypeName}/{id}", Resource = item.Resource }
                : new FhirRequest { Method = "POST", Path = item.Resource.TypeName, Resource = item.Resource };
            var response = await store.ExecuteAsync(request, ct);
            lock (written)
            {
                if (response.Status is 200 or 201)
                {
                    written.Add((item.Name, original, response.ResourceType!, response.Id!));
                }
                else
                {
                    writeFailures.Add((item.Name, $"{response.Status}: {StoreExtensions.Describe(response)}"));
                }
            }
        });

        var equal = 0;
        var different = new List<string>();
        foreach (var (name, original, type, id) in written)
        {
            var read = await store.ExecuteAsync(new FhirRequest { Method = "GET", Path = $"{type}/{id}" });
            var stored = FhirStore.Materialise(read);
            if (SemanticallyEqual(original, stored, id))
            {
                equal++;
            }
            else
            {
                different.Add(name);
            }
        }

        foreach (var (name, resource) in parsed.Where(p => p.Resource is Bundle { Type: Bundle.BundleType.Transaction or Bundle.BundleType.Batch }))
        {
            var response = await store.ExecuteAsync(new FhirRequest { Method = "POST", Path = string.Empty, Resource = resource });
            Assert.True(response.Status < 500, $"{name} gave {response.Status}");
            if (response.Resource is Bundle result)
            {
                processedBundles++;
                foreach (var entry in result.Entry)
                {
                    var status = entry.Response.Status.Split(' ')[0];
                    bundleEntries[status] = bundleEntries.GetValueOrDefault(status) + 1;
                }
            }
            else
            {
                failedBundles.Add((name, $"{response.Status}: {StoreExtensions.Describe(response)}"));
            }
        }

        output.WriteLine($"[{backend}] examples: {ExampleCorpus.All.Count}; accepted by the parser: {parsed.Count}; rejected: {rejected.Count}");
        output.WriteLine($"[{backend}] written: {written.Count}; write refused: {writeFailures.Count}; equal after round trip: {equal}; different: {different.Count}");
        output.WriteLine($"[{backend}] transaction/batch bundles processed: {processedBundles}; refused as a whole: {failedBundles.Count}; entry statuses: {string.Join(", ", bundleEntries.OrderBy(k => k.Key).Select(k => $"{k.Key}×{k.Value}"))}");
        foreach (var (name, reason) in rejected.Concat(writeFailures).Concat(failedBundles))
        {
            output.WriteLine($"  {name}: {reason}");
        }

        Assert.True(parsed.Count > 5000, $"only {parsed.Count} examples parsed");
        Assert.Empty(writeFailures);
        Assert.Empty(different);
        Assert.Equal(written.Count, equal);
        Assert.True(processedBundles > 0);
    }

    private static bool SemanticallyEqual(Resource original, Resource stored, string id)
    {
        var a = (Resource)original.DeepCopy();
        var b = (Resource)stored.DeepCopy();
        a.Id = id;
        foreach (var r in new[] { a, b })
        {
            if (r.Meta is not null)
            {
                r.Meta.VersionId = null;
                r.Meta.LastUpdated = null;
                if (r.Meta.IsExactly(new Meta()))
                {
                    r.Meta = null;
                }
            }
        }

        return a.IsExactly(b);
    }
}
