using Hl7.Fhir.Model;
using Tessera.Demo;
using Tessera.Identity.Tests.Infrastructure;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Tests.Index;

/// <summary>The index on the store, scored against a generated demo region's truth (which person each source record is).</summary>
public sealed class DemoTruthTests(IndexFixture fixture, ITestOutputHelper output) : IClassFixture<IndexFixture>
{
    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Masters_of_a_demo_region_agree_with_its_truth(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var generator = new RegionGenerator(new RegionOptions { Patients = 250, Seed = 2026 });
        var person = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < generator.Options.Patients; i++)
        {
            var bundle = generator.GeneratePerson(i);
            var patients = bundle.Bundle.Entry.Select(e => e.Resource).OfType<Patient>().ToList();
            for (var k = 0; k < patients.Count; k++)
            {
                patients[k].Id = bundle.Truth[k].SourcePatientId;
                await store.PutAsync(patients[k]);
                person[patients[k].Id] = bundle.PersonId;
            }
        }

        await index.CatchUpAsync();

        var masterOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var id in person.Keys)
        {
            masterOf[id] = (await store.MasterOfAsync(id)).Id!;
        }

        long truePairs = 0, linkedPairs = 0, correct = 0;
        var ids = person.Keys.Order(StringComparer.Ordinal).ToList();
        for (var i = 0; i < ids.Count; i++)
        {
            for (var j = i + 1; j < ids.Count; j++)
            {
                var same = person[ids[i]] == person[ids[j]];
                var linked = masterOf[ids[i]] == masterOf[ids[j]];
                truePairs += same ? 1 : 0;
                linkedPairs += linked ? 1 : 0;
                correct += same && linked ? 1 : 0;
            }
        }

        var precision = linkedPairs == 0 ? 1 : correct / (double)linkedPairs;
        var recall = correct / (double)truePairs;
        output.WriteLine($"{backend}: {ids.Count} source records of {person.Values.Distinct().Count()} people; {linkedPairs} linked pairs of {truePairs} true; precision {precision:0.0000}, recall {recall:0.0000}");
        Assert.True(truePairs > 50, "the region should hold people with several records");
        Assert.True(precision >= 0.99, $"precision {precision:0.0000}");
        Assert.True(recall >= 0.95, $"recall {recall:0.0000}");
    }
}
