using Tessera.Integration.Hl7;

namespace Tessera.Integration.Tests.Hl7;

public sealed class Hl7AckBuilderTests
{
    private static readonly DateTimeOffset At = new(2025, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public void Accept_swaps_sender_and_receiver_and_echoes_the_control_id()
    {
        var original = Hl7Message.Parse(Samples.AdtA01);

        var ack = Hl7AckBuilder.Build(original, Hl7AckCode.AA, controlId: "ACK1", timestamp: At);

        Assert.Equal(
            "MSH|^~\\&|TESSERA|REGION|PAS|RGH|20250102030405+0000||ACK^A01^ACK|ACK1|P|2.5.1||||||UNICODE UTF-8\rMSA|AA|MSG00001\r",
            ack.ToString());
        Assert.Equal("ACK", ack.MessageType);
        Assert.Null(ack.GetSegment("ERR"));
    }

    [Fact]
    public void Error_in_v25_and_later_uses_err2_location_and_err3_code()
    {
        var original = Hl7Message.Parse(Samples.AdtA01);

        var ack = Hl7AckBuilder.Build(
            original,
            Hl7AckCode.AE,
            "PID-3: no NHS number",
            [new Hl7AckError(Hl7ErrorCode.RequiredFieldMissing, "PID", 1, 3, "PID-3: no NHS number")],
            controlId: "ACK2",
            timestamp: At);

        Assert.Equal("AE", ack.Get("MSA-1"));
        Assert.Equal("MSG00001", ack.Get("MSA-2"));
        Assert.Equal("PID-3: no NHS number", ack.Get("MSA-3"));
        Assert.Equal("ERR||PID^1^3|101^Required field missing^HL70357|E|||PID-3: no NHS number", ack.GetSegment("ERR")!.ToString());
    }

    [Fact]
    public void Error_before_v25_uses_err1()
    {
        var original = Hl7Message.Parse(Samples.OruR01);

        var ack = Hl7AckBuilder.Build(original, Hl7AckCode.AR, "bad", [new Hl7AckError(Hl7ErrorCode.UnsupportedEventCode, "MSH", 1, 9)], timestamp: At);

        Assert.Equal("ERR|MSH^1^9^201&Unsupported event code&HL70357", ack.GetSegment("ERR")!.ToString());
        Assert.Equal("ACK^R01^ACK", ack.GetRaw("MSH-9"));
        Assert.Equal("2.4", ack.Version);
    }

    [Fact]
    public void Enhanced_mode_is_detected_from_msh15_and_msh16()
    {
        Assert.True(Hl7AckBuilder.IsEnhancedMode(Hl7Message.Parse(Samples.AdtA01)));
        Assert.False(Hl7AckBuilder.IsEnhancedMode(Hl7Message.Parse(Samples.OruR01)));
        var commit = Hl7AckBuilder.Build(Hl7Message.Parse(Samples.AdtA01), Hl7AckCode.CA);
        Assert.Equal("CA", commit.Get("MSA-1"));
    }

    [Fact]
    public void Parse_error_in_the_header_gives_an_ar_that_names_the_field()
    {
        const string raw = "MSH|^~\\&|PAS|RGH|TESSERA|REGION|20250101||ADT^A01|C77|P|9.9\rPID|1\r";
        var error = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(raw));

        var nak = Hl7AckBuilder.ForParseError(raw, error, timestamp: At);

        Assert.Equal("AR", nak.Get("MSA-1"));
        Assert.Equal("C77", nak.Get("MSA-2"));
        Assert.Equal("PAS", nak.Get("MSH-5"));
        Assert.Equal(Hl7AckBuilder.FallbackVersion, nak.Version);
        Assert.Equal("MSH", nak.Get("ERR-2.1"));
        Assert.Equal("12", nak.Get("ERR-2.3"));
        Assert.Equal("203", nak.Get("ERR-3.1"));
        Assert.StartsWith("MSH-12: unsupported version '9.9'", nak.Get("ERR-7"), StringComparison.Ordinal);
        Assert.Equal(nak.ToString(), Hl7Message.Parse(nak.ToString()).ToString());
    }

    [Fact]
    public void Parse_error_in_a_body_segment_gives_an_ae()
    {
        const string raw = "MSH|^~\\&|PAS|RGH|TESSERA|REGION|20250101||ADT^A01|C78|P|2.3\rpid|1\r";
        var error = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(raw));

        var nak = Hl7AckBuilder.ForParseError(raw, error);

        Assert.Equal("AE", nak.Get("MSA-1"));
        Assert.Equal("100", nak.Get("ERR-1.4.1"));
        Assert.Equal("2", nak.Get("ERR-1.2"));
    }

    [Fact]
    public void Unreadable_input_still_gets_a_reply()
    {
        var error = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse("garbage"));

        var nak = Hl7AckBuilder.ForParseError("garbage", error);

        Assert.Equal("AR", nak.Get("MSA-1"));
        Assert.Equal(string.Empty, nak.Get("MSA-2"));
        Assert.Equal("100", nak.Get("ERR-3"));
        Assert.Equal("MSH: missing segment; message must start with MSH", nak.Get("ERR-7"));
    }
}
