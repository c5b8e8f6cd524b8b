using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Tests.Corpus;

namespace Tessera.RecordStore.Tests.Extraction;

/// <summary>Composites read over the model's getters give exactly the rows the FHIRPath engine gives, over the R4 examples.</summary>
public sealed class CompositeExtractionTests
{
    [Fact]
    public void Simple_composites_index_the_same_rows_as_the_engine_on_every_example_with_composites()
    {
        var registry = SearchParameterRegistry.Core;
        var indexer = new ResourceIndexer(registry);
        var compared = 0;
        var tuples = 0;
        var mismatches = new List<string>();
        var candidates = ExampleCorpus.All.Where(e => e.Json.Contains("\"Observation\"", StringComparison.Ordinal) || e.Json.Contains("\"component\"", StringComparison.Ordinal));
        foreach (var (name, resource) in ExampleCorpus.Parsed(candidates))
        {
            if (!registry.For(resource.TypeName).Any(p => p.Components is not null))
            {
                continue;
            }

            var fast = Rows(indexer.Extract(resource, fastComposites: true));
            var engine = Rows(indexer.Extract(resource, fastComposites: false));
            compared++;
            tuples += engine.Count(r => r.Contains('#', StringComparison.Ordinal));
            if (!fast.SequenceEqual(engine))
            {
                mismatches.Add($"{name}: fast has {string.Join(", ", fast.Except(engine).Take(3))}; engine has {string.Join(", ", engine.Except(fast).Take(3))}");
            }
        }

        Assert.True(compared > 100, $"only {compared} examples with composite parameters");
        Assert.True(tuples > 200, $"only {tuples} composite rows");
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches.Take(20)));
    }

    private static List<string> Rows(IndexValues v) =>
    [
        .. v.Strings.Select(r => $"s {r}"), .. v.Tokens.Select(r => $"t {r}"), .. v.Dates.Select(r => $"d {r}"), .. v.Numbers.Select(r => $"n {r}"),
        .. v.Quantities.Select(r => $"q {r}"), .. v.References.Select(r => $"r {r}"), .. v.Uris.Select(r => $"u {r}"),
    ];
}
