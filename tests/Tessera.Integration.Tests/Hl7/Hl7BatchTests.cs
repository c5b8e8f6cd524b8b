using Tessera.Integration.Hl7;

namespace Tessera.Integration.Tests.Hl7;

public sealed class Hl7BatchTests
{
    private const string Fhs = "FHS|^~\\&|PAS|RXH|TESSERA|REGION|20260301101500||batch-001.hl7\r";
    private const string Bhs = "BHS|^~\\&|PAS|RXH|TESSERA|REGION|20260301101500\r";

    private static string Message(string control) =>
        $"MSH|^~\\&|PAS|RXH|TESSERA|REGION|20260301101500||ADT^A28^ADT_A05|{control}|P|2.5.1\rEVN|A28|20260301101500\rPID|1||{control}^^^RXH^MR||DOE^JANE\r";

    [Fact]
    public void A_batch_file_splits_into_its_messages_and_its_counts_add_up()
    {
        var text = Fhs + Bhs + Message("C1") + Message("C2") + "BTS|2\r" + Bhs + Message("C3") + "BTS|1\rFTS|2\r";

        var batch = Hl7Batch.Split(text.Replace("\r", "\r\n", StringComparison.Ordinal));

        Assert.True(batch.IsBatch);
        Assert.Empty(batch.Problems);
        Assert.Equal([Message("C1"), Message("C2"), Message("C3")], batch.Messages);
        Assert.All(batch.Messages, m => Assert.Equal("ADT", Hl7Message.Parse(m).MessageType));
    }

    [Fact]
    public void Messages_without_batch_headers_form_one_batch_and_plain_files_are_not_batches()
    {
        Assert.Empty(Hl7Batch.Split(Fhs + Message("C1") + Message("C2") + "FTS|1\r").Problems);
        Assert.Empty(Hl7Batch.Split(Bhs + Message("C1") + "BTS|1\r").Problems);
        var plain = Hl7Batch.Split(Message("C1") + "\n" + Message("C2"));
        Assert.False(plain.IsBatch);
        Assert.Equal(2, plain.Messages.Count);
        Assert.Empty(plain.Problems);
    }

    [Theory]
    [InlineData(Fhs + Bhs + "{0}{1}BTS|3\rFTS|1\r", "BTS-1 says 3 messages in the batch, but 2 are there")]
    [InlineData(Fhs + Bhs + "{0}{1}BTS|2\rFTS|2\r", "FTS-1 says 2 batches in the file, but 1 is there")]
    [InlineData(Fhs + Bhs + "{0}{1}BTS|two\rFTS|1\r", "BTS-1 'two' is not a count")]
    [InlineData(Fhs + Bhs + "{0}{1}", "has no BTS trailer: the file may be truncated")]
    [InlineData(Fhs + Bhs + "{0}{1}BTS|2\r", "has no FTS trailer")]
    [InlineData(Fhs + Bhs + "{0}{1}FTS|1\r", "FTS before the open batch was closed with BTS")]
    [InlineData(Fhs + "PID|1||X\r" + Bhs + "{0}{1}BTS|2\rFTS|1\r", "segment PID is outside any message")]
    [InlineData(Fhs + Bhs + "{0}BTS|1\rFTS|1\r{1}", "a message after FTS")]
    public void An_envelope_that_does_not_add_up_is_reported_and_the_messages_kept(string template, string problem)
    {
        var batch = Hl7Batch.Split(string.Format(System.Globalization.CultureInfo.InvariantCulture, template, Message("C1"), Message("C2")));

        Assert.Contains(batch.Problems, p => p.Contains(problem, StringComparison.Ordinal));
        Assert.Equal(2, batch.Messages.Count);
    }
}
