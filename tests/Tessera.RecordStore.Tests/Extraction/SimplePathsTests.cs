using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Tests.Corpus;
using Xunit.Abstractions;

namespace Tessera.RecordStore.Tests.Extraction;

/// <summary>The fast evaluator of simple search expressions gives exactly what the FHIRPath engine gives, over the R4 examples.</summary>
public sealed class SimplePathsTests(ITestOutputHelper output)
{
    [Fact]
    public void Simple_paths_select_the_same_values_as_the_engine_on_every_example()
    {
        var registry = SearchParameterRegistry.Core;
        int compared = 0, withValues = 0, engineFailures = 0;
        var mismatches = new List<string>();
        // Up to 25 examples of each type (every type and nearly every parameter, in a fraction of the time),
        // parsed as the store parses what clients send.
        foreach (var (name, resource) in ExampleCorpus.Parsed(ExampleCorpus.All.GroupBy(e => e.Name.Split('-')[0]).SelectMany(g => g.Take(25))))
        {
            var node = resource.ToPocoNode();
            foreach (var param in registry.For(resource.TypeName).Where(p => p.Expression is not null && p.Components is null))
            {
                var expression = param.IsCommon ? $"{resource.TypeName}.{param.Expression}" : param.Expression!;
                if (SimplePaths.For(expression) is not { } simple)
                {
                    continue;
                }

                var fast = simple(resource);
                List<Base> engine;
                try
                {
                    engine = ResourceIndexer.Evaluate(expression, node, ResourceIndexer.Context);
                }
                catch (Exception e) when (e is not Xunit.Sdk.XunitException)
                {
                    engineFailures++; // the engine cannot compare some leniently parsed values (e.g. a decimal given as a string)
                    continue;
                }

                compared++;
                withValues += fast.Count > 0 ? 1 : 0;
                // A union drops values equal to one already selected; the index drops duplicate rows the same way.
                var missing = engine.Where(e => !fast.Any(f => ReferenceEquals(e, f))).ToList();
                var extra = fast.Where(f => !engine.Any(e => ReferenceEquals(e, f) || e.IsExactly(f))).ToList();
                if (missing.Count > 0 || extra.Count > 0)
                {
                    mismatches.Add($"{name} {param.Code} ({expression}): fast {fast.Count}, engine {engine.Count}, missing {missing.Count}, extra {extra.Count}");
                }
            }
        }

        output.WriteLine($"{compared} parameter evaluations compared, {withValues} with values, {mismatches.Count} differ; the engine failed on {engineFailures}");
        Assert.True(withValues > 5_000, $"only {withValues} evaluations had values");
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches.Take(40)));
    }
}
