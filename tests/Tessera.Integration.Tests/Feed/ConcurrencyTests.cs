using Hl7.Fhir.Model;
using Tessera.Integration.Mllp;
using Tessera.Integration.Pipeline;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Integration.Tests.Feed;

/// <summary>
/// Conditional writes lock per identifier rather than per type, so the pipeline's workers run in parallel;
/// these prove that parallel writers still never create a resource twice.
/// </summary>
public sealed class ConcurrencyTests
{
    private const string SystemA = "https://example.org/a";
    private const string SystemB = "https://example.org/b";

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task Parallel_conditional_updates_create_each_resource_once(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);

        // 24 writers on 4 identifiers at once, each in its own transaction.
        var keys = Enumerable.Range(0, 4).Select(_ => Messages.NewId("K")).ToArray();
        var writes = Enumerable.Range(0, 24).Select(i => System.Threading.Tasks.Task.Run(() => PutAsync(store, $"Patient?identifier={SystemA}|{keys[i % 4]}", Patient((SystemA, keys[i % 4])))));
        Assert.All(await System.Threading.Tasks.Task.WhenAll(writes), status => Assert.True(status is 200 or 201, $"answered {status}"));
        foreach (var key in keys)
        {
            var patient = Assert.Single(await SearchAsync(store, $"Patient?identifier={SystemA}|{key}"));
            Assert.Equal("6", patient.Meta.VersionId);
        }

        // Writers whose criteria differ but whose bodies carry both identifiers: whichever creates the resource,
        // every other one must find it, as if they had run one at a time.
        var (a, b) = (Messages.NewId("A"), Messages.NewId("B"));
        var crossed = Enumerable.Range(0, 16).Select(i => System.Threading.Tasks.Task.Run(() => PutAsync(store, i % 2 == 0 ? $"Patient?identifier={SystemA}|{a}" : $"Patient?identifier={SystemB}|{b}", Patient((SystemA, a), (SystemB, b)))));
        Assert.All(await System.Threading.Tasks.Task.WhenAll(crossed), status => Assert.True(status is 200 or 201, $"answered {status}"));
        var one = Assert.Single(await SearchAsync(store, $"Patient?identifier={SystemB}|{b}"));
        Assert.Equal(one.Id, Assert.Single(await SearchAsync(store, $"Patient?identifier={SystemA}|{a}")).Id);
        Assert.Equal("16", one.Meta.VersionId);
    }

    [Fact]
    public async System.Threading.Tasks.Task Several_pipeline_workers_write_each_patient_and_visit_once_in_message_order()
    {
        await using var db = await TestDatabase.CreateAsync("postgres");
        await using var store = await FhirStore.OpenAsync(db.Location);
        var options = FeedFixture.Options();
        options.RunPipeline = true;
        options.PipelineWorkers = 4;
        options.PipelineBatchSize = 4;
        options.PipelinePollInterval = TimeSpan.FromMilliseconds(50);
        await using var feed = await Hl7Feed.StartAsync(store, options);

        // 8 patients, each admitted (A01), updated (A08) and discharged (A03) in turn on its own connection, all at once.
        var people = Enumerable.Range(0, 8).Select(_ => (Mrn: Messages.NewId("M"), Visit: Messages.NewId("V"))).ToArray();
        await System.Threading.Tasks.Task.WhenAll(people.Select(async p =>
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", feed.MllpEndPoint!.Port);
            foreach (var trigger in new[] { "A01", "A08", "A03" })
            {
                Assert.Equal("AA", (await client.SendAsync(Integration.Hl7.Hl7Message.Parse(Messages.Adt(trigger, Messages.NewId("C"), p.Mrn, p.Visit)))).Get("MSA-1"));
            }
        }));

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await Hl7Admin.CountsAsync(store))["pending"] > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the pipeline did not finish within 60 s");
            await System.Threading.Tasks.Task.Delay(50);
        }

        Assert.Equal((24L, 0L), ((await Hl7Admin.CountsAsync(store))["done"], (await Hl7Admin.CountsAsync(store))["dead"]));
        foreach (var (mrn, visit) in people)
        {
            var patient = Assert.Single(await SearchAsync(store, $"Patient?identifier={Messages.PatientSystem}|{mrn}"));
            var encounter = Assert.IsType<Encounter>(Assert.Single(await SearchAsync(store, $"Encounter?identifier={Messages.EncounterSystem}|{visit}")));
            Assert.Equal($"Patient/{patient.Id}", encounter.Subject.Reference);

            // Per patient, messages are applied in arrival order: the discharge (A03) came last.
            Assert.Equal(Encounter.EncounterStatus.Finished, encounter.Status);
            Assert.Equal("3", encounter.Meta.VersionId);
        }
    }

    private static Patient Patient(params (string System, string Value)[] identifiers) => new()
    {
        Identifier = [.. identifiers.Select(i => new Identifier(i.System, i.Value))],
        Name = [new HumanName { Family = "Parallel", Given = ["Test"] }],
    };

    private static async System.Threading.Tasks.Task<int> PutAsync(FhirStore store, string url, Resource body) =>
        (await store.ExecuteAsync(FhirRequest.FromUrl("PUT", url, body))).Status;

    private static async System.Threading.Tasks.Task<List<Resource>> SearchAsync(FhirStore store, string url)
    {
        var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", url));
        Assert.Equal(200, response.Status);
        return [.. ((Bundle)response.Resource!).Entry.Select(e => e.Resource)];
    }
}
