using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.Integration.Hl7;
using Tessera.Integration.Mllp;
using Tessera.Integration.Pipeline;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Integration.Tests.Feed;

/// <summary>ADT^A40 end to end: over MLLP, through the inbox and pipeline, into the master patient index's real $merge.</summary>
public sealed class MergeFeedTests
{
    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task An_A40_merges_the_retired_patient_into_the_survivors_person_and_an_unknown_one_is_dead_lettered(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var index = await store.AddIdentityAsync();
        await using var feed = await Hl7Feed.StartAsync(store, FeedFixture.Options());

        // The survivor, and a duplicate registration the matcher cannot link (an unidentified patient in the ED).
        var (survivor, retired, visit) = (Messages.NewId("M"), Messages.NewId("M"), Messages.NewId("V"));
        Assert.Equal("AA", (await SendAsync(feed, Messages.Adt("A28", Messages.NewId("C"), survivor))).Get("MSA-1"));
        var unidentified = Messages.Header("ADT^A04^ADT_A01", Messages.NewId("C"))
            + "EVN|A04|20260301101500\r"
            + $"PID|1||{retired}^^^RXH^MR||UNKNOWN^FEMALE||19700101|F\r"
            + $"PV1|1|E|ED^^^RXH||||C1234^JONES^PETER^^^DR|||MED||||19|||C5678^KHAN^SARA^^^DR||{visit}|||||||||||||||||||||||||20260301100000\r";
        Assert.Equal("AA", (await SendAsync(feed, unidentified)).Get("MSA-1"));
        await feed.Pipeline.DrainAsync(16, default);
        await index.CatchUpAsync();
        var survivorId = await PatientIdAsync(store, survivor);
        var retiredId = await PatientIdAsync(store, retired);
        var encounter = Assert.Single(await SearchAsync(store, $"Encounter?identifier={Messages.EncounterSystem}|{visit}"));
        Assert.DoesNotContain(await EverythingAsync(store, survivorId), r => r.Id == encounter.Id);

        // ADT^A40: MRG-1 (the unidentified registration) merged into PID-3 (the survivor).
        var control = Messages.NewId("C");
        var merge = Messages.Adt("A40", control, survivor, extra: $"MRG|{retired}^^^RXH^MR\r").Replace("ADT^A40^ADT_A01", "ADT^A40^ADT_A39", StringComparison.Ordinal);
        Assert.Equal("AA", (await SendAsync(feed, merge)).Get("MSA-1"));
        await feed.Pipeline.DrainAsync(16, default);
        Assert.Equal("done", Assert.Single(await StoredAsync(feed, control)).State);

        // One person, the retired record replaced-by on the master; the source records themselves unchanged.
        var master = Assert.IsType<Patient>(Assert.Single(await SearchAsync(store, $"Patient?link=Patient/{survivorId}&_tag=urn:tessera:mpi|master&active=true")));
        Assert.Contains(master.Link, l => l.Other.Reference == $"Patient/{survivorId}" && l.Type == Patient.LinkType.Seealso);
        Assert.Contains(master.Link, l => l.Other.Reference == $"Patient/{retiredId}" && l.Type == Patient.LinkType.ReplacedBy);
        Assert.Equal(master.Id, Assert.Single(await SearchAsync(store, $"Patient?link=Patient/{retiredId}&_tag=urn:tessera:mpi|master&active=true")).Id);

        // The retired patient's records are reached through the surviving person.
        var everything = await EverythingAsync(store, survivorId);
        Assert.Contains(everything, r => r is Encounter && r.Id == encounter.Id);
        Assert.Contains(everything, r => r is Patient && r.Id == retiredId);

        // The merge's Provenance names the sending system and the message.
        var provenance = (await SearchAsync(store, $"Provenance?target=Patient/{retiredId}")).OfType<Provenance>().Single(p => p.Activity.Coding[0].Code == "merge");
        Assert.Equal($"{Messages.Application}|{Messages.Facility}", provenance.Agent[0].Who.Identifier.Value);
        Assert.Equal(control, provenance.Entity.Single().What.Identifier.Value);

        // An A40 naming a patient never sent: acknowledged (stored), then a dead letter saying what to do.
        var unknown = Messages.NewId("M");
        var orphan = Messages.NewId("C");
        Assert.Equal("AA", (await SendAsync(feed, Messages.Adt("A40", orphan, survivor, extra: $"MRG|{unknown}^^^RXH^MR\r").Replace("ADT^A40^ADT_A01", "ADT^A40^ADT_A39", StringComparison.Ordinal))).Get("MSA-1"));
        await feed.Pipeline.DrainAsync(16, default);
        var dead = Assert.Single(await StoredAsync(feed, orphan));
        Assert.Equal("dead", dead.State);
        Assert.Contains($"no Patient has identifier {Messages.PatientSystem}|{unknown} (the patient merged away (MRG-1)); send the patient first, then replay", dead.Error, StringComparison.Ordinal);
        Assert.Equal(master.Id, Assert.Single(await SearchAsync(store, $"Patient?link=Patient/{survivorId}&_tag=urn:tessera:mpi|master&active=true")).Id);
    }

    private static async Task<Hl7Message> SendAsync(Hl7Feed feed, string message)
    {
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", feed.MllpEndPoint!.Port);
        return await client.SendAsync(Hl7Message.Parse(message, Hl7ParseOptions.Lenient));
    }

    private static async Task<List<Inbox.Hl7InboxMessage>> StoredAsync(Hl7Feed feed, string control) =>
        (await feed.Inbox.ListAsync(null, null, 100_000, default)).Where(m => m.ControlId == control).ToList();

    private static async Task<string> PatientIdAsync(FhirStore store, string mrn) =>
        Assert.Single(await SearchAsync(store, $"Patient?identifier={Messages.PatientSystem}|{mrn}")).Id!;

    private static async Task<List<Resource>> EverythingAsync(FhirStore store, string patientId)
    {
        var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"Patient/{patientId}/$everything?_count=1000"));
        Assert.Equal(200, response.Status);
        return [.. ((Bundle)response.Resource!).Entry.Select(e => e.Resource)];
    }

    private static async Task<List<Resource>> SearchAsync(FhirStore store, string url)
    {
        var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", url));
        Assert.Equal(200, response.Status);
        return [.. ((Bundle)response.Resource!).Entry.Where(e => e.Search?.Mode != Bundle.SearchEntryMode.Include).Select(e => e.Resource)];
    }
}
