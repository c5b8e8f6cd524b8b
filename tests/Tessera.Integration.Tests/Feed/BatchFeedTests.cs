using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;

namespace Tessera.Integration.Tests.Feed;

/// <summary>Batch files through the inbox path: each message stored and acknowledged on its own, counts checked.</summary>
public sealed class BatchFeedTests(FeedFixture fixture) : IClassFixture<FeedFixture>
{
    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task A_batch_file_is_stored_and_acknowledged_message_by_message(string backend)
    {
        var feed = fixture.Feed(backend);
        var (a, b, c) = (Messages.NewId("C"), Messages.NewId("C"), Messages.NewId("C"));
        var (mrnA, mrnB) = (Messages.NewId("M"), Messages.NewId("M"));
        var unknownSender = Messages.Header("ADT^A28^ADT_A05", c, application: "OTHER") + $"EVN|A28|20260301101500\rPID|1||{Messages.NewId("M")}^^^RXH^MR||DOE^JANE\r";
        var file = "FHS|^~\\&|PAS|RXH|TESSERA|REGION|20260301101500\r"
            + "BHS|^~\\&|PAS|RXH|TESSERA|REGION|20260301101500\r"
            + Messages.Adt("A28", a, mrnA) + Messages.Adt("A28", b, mrnB) + unknownSender
            + "BTS|3\rFTS|1\r";

        var (batch, acks) = await feed.AcceptFileAsync(file.Replace("\r", "\r\n", StringComparison.Ordinal), "batch-001.hl7");

        Assert.Empty(batch.Problems);
        Assert.Equal([("AA", a), ("AA", b), ("AR", c)], acks.Select(ack => (ack.Get("MSA-1")!, ack.Get("MSA-2")!)));
        Assert.Contains("not a configured source", acks[2].Get("MSA-3"), StringComparison.Ordinal);
        Assert.Equal(2, (await feed.Inbox.ListAsync(null, null, 100_000, default)).Count(m => m.ControlId == a || m.ControlId == b));

        // Sent again: acknowledged again, nothing stored twice; then processed like any other message.
        var (_, again) = await feed.AcceptFileAsync(file, "batch-001.hl7");
        Assert.All(again.Take(2), ack => Assert.Contains("already received", ack.Get("MSA-3"), StringComparison.Ordinal));
        Assert.Equal(2, (await feed.Inbox.ListAsync(null, null, 100_000, default)).Count(m => m.ControlId == a || m.ControlId == b));
        await feed.ProcessPendingAsync();
        foreach (var mrn in new[] { mrnA, mrnB })
        {
            var response = await fixture.Store(backend).ExecuteAsync(FhirRequest.FromUrl("GET", $"Patient?identifier={Messages.PatientSystem}|{mrn}"));
            Assert.Single(((Bundle)response.Resource!).Entry);
        }
    }

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task A_batch_whose_trailer_count_differs_is_reported_and_its_messages_still_stored(string backend)
    {
        var feed = fixture.Feed(backend);
        var control = Messages.NewId("C");
        var file = "BHS|^~\\&|PAS|RXH\r" + Messages.Adt("A28", control, Messages.NewId("M")) + "BTS|2\r";

        var (batch, acks) = await feed.AcceptFileAsync(file, "short.hl7");

        Assert.Contains(batch.Problems, p => p.Contains("BTS-1 says 2 messages in the batch, but 1 is there", StringComparison.Ordinal));
        Assert.Equal("AA", Assert.Single(acks).Get("MSA-1"));
        Assert.Single(await feed.Inbox.ListAsync(null, null, 100_000, default), m => m.ControlId == control);
    }
}
