using System.Text;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Tests.Hl7;

public sealed class Hl7MessageTests
{
    [Fact]
    public void Header_properties_come_from_msh()
    {
        var message = Hl7Message.Parse(Samples.AdtA01);

        Assert.Equal("ADT", message.MessageType);
        Assert.Equal("A01", message.TriggerEvent);
        Assert.Equal("ADT_A01", message.MessageStructure);
        Assert.Equal("MSG00001", message.ControlId);
        Assert.Equal("2.5.1", message.Version);
        Assert.Equal("P", message.ProcessingId);
        Assert.Equal("PAS", message.SendingApplication);
        Assert.Equal("RGH", message.SendingFacility);
        Assert.Equal("TESSERA", message.ReceivingApplication);
        Assert.Equal("REGION", message.ReceivingFacility);
        Assert.Equal("UNICODE UTF-8", message.CharacterSet);
        Assert.Equal(["MSH", "EVN", "PID", "PV1", "ZPV"], message.Segments.Select(s => s.Id));
    }

    [Theory]
    [InlineData("MSH-1", "|")]
    [InlineData("MSH-2", "^~\\&")]
    [InlineData("MSH-9", "ADT")]
    [InlineData("MSH-9.2", "A01")]
    [InlineData("MSH-9-3", "ADT_A01")]
    [InlineData("PID-3", "9990001234")]
    [InlineData("PID-3.4", "NHS")]
    [InlineData("PID-3(2).1", "H123456")]
    [InlineData("PID-3(2).5", "MR")]
    [InlineData("PID-5.2", "JANE")]
    [InlineData("PID-11.5", "LS1 1AA")]
    [InlineData("PV1-3.2", "BED2")]
    [InlineData("ZPV-2.3", "parts")]
    [InlineData("PID[1]-8", "F")]
    public void Paths_read_fields_repetitions_and_components(string path, string expected)
    {
        Assert.Equal(expected, Hl7Message.Parse(Samples.AdtA01).Get(path));
    }

    [Theory]
    [InlineData("PID-3(3)")]
    [InlineData("PID-5.9")]
    [InlineData("PID-99")]
    [InlineData("OBX-1")]
    [InlineData("PID[2]-1")]
    public void Absent_positions_read_as_null(string path)
    {
        Assert.Null(Hl7Message.Parse(Samples.AdtA01).Get(path));
    }

    [Fact]
    public void Subcomponents_and_segment_occurrences_are_addressable()
    {
        var message = Hl7Message.Parse("MSH|^~\\&|A|B|C|D|20250101||ADT^A08|1|P|2.3\rPID|1||123^^^AUTH&1.2.3&ISO\rOBX|1|ST|X||first\rOBX|2|ST|Y||second\r");

        Assert.Equal("1.2.3", message.Get("PID-3.4.2"));
        Assert.Equal("ISO", message.Get("PID-3.4.3"));
        Assert.Equal("AUTH&1.2.3&ISO", message.GetRaw("PID-3.4"));
        Assert.Equal("second", message.Get("OBX[2]-5"));
        Assert.Equal(2, message.GetSegments("OBX").Count());
    }

    [Fact]
    public void Repetitions_are_counted()
    {
        var pid = Hl7Message.Parse(Samples.AdtA01).GetSegment("PID")!;

        Assert.Equal(2, pid.RepetitionCount(3));
        Assert.Equal(1, pid.RepetitionCount(5));
        Assert.Equal(0, pid.RepetitionCount(4));
        Assert.Equal(0, pid.RepetitionCount(40));
    }

    [Fact]
    public void Typed_reads_decode_escapes_but_raw_text_and_round_trip_keep_them()
    {
        var message = Hl7Message.Parse(Samples.OruR01);

        Assert.Equal("Line one\nLine two & more", message.Get("OBX[3]-5"));
        Assert.Equal("Line one\\.br\\Line two \\T\\ more", message.GetRaw("OBX[3]-5"));
        Assert.Equal(Samples.OruR01, message.ToString());
    }

    [Theory]
    [InlineData("\r")]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void Segment_endings_cr_lf_and_crlf_are_read_and_kept(string ending)
    {
        var text = Samples.AdtA01.Replace("\r", ending, StringComparison.Ordinal);
        var message = Hl7Message.Parse(text);

        Assert.Equal(5, message.Segments.Count);
        Assert.Equal("DOE", message.Get("PID-5"));
        Assert.Equal(text, message.ToString());
    }

    [Fact]
    public void Mixed_endings_blank_lines_a_bom_and_a_missing_final_ending_survive_a_round_trip()
    {
        var text = "\uFEFFMSH|^~\\&|A||B||20250101||ADT^A04|9|P|2.3\r\nEVN|A04\n\rPID|1||42\r\r\n  \nPV1|1|O";
        var message = Hl7Message.Parse(text);

        Assert.Equal(["MSH", "EVN", "PID", "PV1"], message.Segments.Select(s => s.Id));
        Assert.Equal(text, message.ToString());
        var bytes = Encoding.UTF8.GetBytes(text);
        Assert.Equal(bytes, Hl7Message.Parse(bytes).ToBytes());
    }

    [Fact]
    public void Other_delimiters_are_taken_from_msh()
    {
        var text = "MSH#$*!@#SND#FAC#RCV#FAC#20250101##ADT$A01#X1#P#2.5\rPID#1##111$$$A@B*222$$$C#|ignored pipe\r";
        var message = Hl7Message.Parse(text);

        Assert.Equal(new Hl7Delimiters('#', '$', '*', '!', '@'), message.Delimiters);
        Assert.Equal("SND", message.Get("MSH-3"));
        Assert.Equal("A01", message.TriggerEvent);
        Assert.Equal("B", message.Get("PID-3.4.2"));
        Assert.Equal("222", message.Get("PID-3(2)"));
        Assert.Equal("|ignored pipe", message.Get("PID-4"));
        Assert.Equal(text, message.ToString());
    }

    [Fact]
    public void Truncation_character_of_v27_is_read_and_escaped()
    {
        var message = Hl7Message.Parse("MSH|^~\\&#|A|B|C|D|20250101||ADT^A01|1|P|2.7\rNTE|1||50\\P\\ off\r");

        Assert.Equal('#', message.Delimiters.Truncation);
        Assert.Equal("50# off", message.Get("NTE-3"));
        message.Set("NTE-3", "a#b");
        Assert.Equal("a\\P\\b", message.GetRaw("NTE-3"));
    }

    [Fact]
    public void Setting_a_value_rewrites_only_that_segment()
    {
        var text = Samples.AdtA01.Replace("\r", "\r\n", StringComparison.Ordinal);
        var message = Hl7Message.Parse(text);

        message.Set("PID-5.2", "JOAN^ANN");
        message.Set("PID-3(3).1", "NEW1");
        message.Set("PV1-3.2", "BED9");
        message.Set("PID-30", "Y");

        Assert.Equal("JOAN^ANN", message.Get("PID-5.2"));
        Assert.Equal("DOE^JOAN\\S\\ANN^Q^^MS", message.GetRaw("PID-5"));
        Assert.Equal("NEW1", message.Get("PID-3(3)"));
        Assert.Equal("H123456", message.Get("PID-3(2)"));
        Assert.Equal("BED9", message.Get("PV1-3.2"));
        Assert.Equal(30, message.GetSegment("PID")!.FieldCount);
        var reparsed = Hl7Message.Parse(message.ToString());
        Assert.Equal("Y", reparsed.Get("PID-30"));
        Assert.Equal("JOAN^ANN", reparsed.Get("PID-5.2"));
        var unchanged = text.Split("\r\n");
        var now = message.ToString().Split("\r\n");
        Assert.Equal(unchanged[0], now[0]);
        Assert.Equal(unchanged[1], now[1]);
        Assert.Equal(unchanged[4], now[4]);
    }

    [Fact]
    public void Setting_a_missing_segment_adds_it_at_the_end()
    {
        var message = Hl7Message.Parse("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5");

        message.Set("ZTS-2.2", "value");

        Assert.Equal("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rZTS||^value\r", message.ToString());
        Assert.Throws<ArgumentException>(() => message.Set("ZTS[3]-1", "x"));
        Assert.Throws<ArgumentOutOfRangeException>(() => message.Set("MSH-2", "x"));
    }

    [Fact]
    public void A_built_message_can_always_be_written_as_bytes()
    {
        var message = Hl7Message.Create();
        message.Set("MSH-9", "ADT");
        message.Set("ZXX-1", "lone \ud800 surrogate");

        Assert.NotEmpty(message.ToBytes());
        Assert.Equal("MSH|^~\\&|||||||ADT\rZXX|lone \ud800 surrogate\r", message.ToString());
    }

    [Fact]
    public void Unknown_and_z_segments_are_kept()
    {
        var text = "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rZXY|1|2\rQQQ|x\r";
        var message = Hl7Message.Parse(text);

        Assert.Equal(["MSH", "ZXY", "QQQ"], message.Segments.Select(s => s.Id));
        Assert.Equal("x", message.Get("QQQ-1"));
        Assert.Equal(text, message.ToString());
    }

    [Theory]
    [InlineData("2.1")]
    [InlineData("2.2")]
    [InlineData("2.3")]
    [InlineData("2.3.1")]
    [InlineData("2.4")]
    [InlineData("2.5")]
    [InlineData("2.5.1")]
    [InlineData("2.6")]
    [InlineData("2.7")]
    [InlineData("2.7.1")]
    [InlineData("2.8")]
    [InlineData("2.8.2")]
    [InlineData("2.5^GBR")]
    public void Versions_21_to_28_are_accepted(string version)
    {
        var message = Hl7Message.Parse($"MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|{version}\r");

        Assert.Equal(version.Split('^')[0], message.Version);
    }

    [Theory]
    [InlineData("", "MSH: missing segment; message must start with MSH", Hl7ErrorCode.SegmentSequenceError)]
    [InlineData("PID|1\rMSH|^~\\&", "MSH: missing segment; message must start with MSH", Hl7ErrorCode.SegmentSequenceError)]
    [InlineData("MSH", "MSH-1: field separator is missing", Hl7ErrorCode.DataTypeError)]
    [InlineData("MSHA^~\\&", "MSH-1: 'A' cannot be the field separator", Hl7ErrorCode.DataTypeError)]
    [InlineData("MSH||A", "MSH-2: encoding characters are missing", Hl7ErrorCode.DataTypeError)]
    [InlineData("MSH|^^\\&|A", "MSH-2: encoding characters '^^\\&' repeat '^'", Hl7ErrorCode.DataTypeError)]
    [InlineData("MSH|^~\\&|A|B|C|D|20250101|||1|P|2.5", "MSH-9: message type is empty", Hl7ErrorCode.RequiredFieldMissing)]
    [InlineData("MSH|^~\\&|A|B|C|D|20250101||^A01|1|P|2.5", "MSH-9: message type is empty", Hl7ErrorCode.RequiredFieldMissing)]
    [InlineData("MSH|^~\\&|A|B|C|D|20250101||ADT^A01||P|2.5", "MSH-10: control id is empty", Hl7ErrorCode.RequiredFieldMissing)]
    [InlineData("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P", "MSH-12: version is empty", Hl7ErrorCode.RequiredFieldMissing)]
    [InlineData("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|3.0", "MSH-12: unsupported version '3.0'", Hl7ErrorCode.UnsupportedVersionId)]
    [InlineData("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rpid|1", "pid (segment 2): invalid segment id", Hl7ErrorCode.SegmentSequenceError)]
    [InlineData("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\rMSH|^~\\&|A|B|C|D|20250101||ADT^A01|2|P|2.5", "MSH (segment 2): a second MSH segment", Hl7ErrorCode.SegmentSequenceError)]
    public void Parse_errors_name_segment_field_and_reason(string text, string expected, Hl7ErrorCode code)
    {
        var error = Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(text));

        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        Assert.Equal(code, error.ErrorCode);
        Assert.False(Hl7Message.TryParse(text, out _, out var tried));
        Assert.Equal(error.Message, tried!.Message);
    }

    [Fact]
    public void Lenient_parsing_accepts_what_only_strict_checks_refuse()
    {
        const string text = "MSH|^~y0|A|B|C|D|20250101||ADT^A40|||2.7\r000|x\r";
        Assert.Throws<Hl7ParseException>(() => Hl7Message.Parse(text));

        var message = Hl7Message.Parse(text, Hl7ParseOptions.Lenient);

        Assert.Equal('y', message.Delimiters.Escape);
        Assert.Equal(text, message.ToString());
    }

    [Fact]
    public void Bytes_are_decoded_by_msh18_or_fallback_and_written_back_unchanged()
    {
        var latin1Text = "MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5||||||8859/1\rPID|1||1||MÜLLER^JOSÉ\r";
        var latin1 = Encoding.Latin1.GetBytes(latin1Text);
        var fromLatin1 = Hl7Message.Parse(latin1);
        Assert.Equal("MÜLLER", fromLatin1.Get("PID-5"));
        Assert.Equal(latin1, fromLatin1.ToBytes());

        var utf8 = Encoding.UTF8.GetBytes(latin1Text.Replace("8859/1", "UNICODE UTF-8", StringComparison.Ordinal));
        var fromUtf8 = Hl7Message.Parse(utf8);
        Assert.Equal("JOSÉ", fromUtf8.Get("PID-5.2"));
        Assert.Equal(utf8, fromUtf8.ToBytes());

        // No MSH-18 and bytes that are not UTF-8: Latin-1 keeps every byte.
        var undeclared = Encoding.Latin1.GetBytes(latin1Text.Replace("8859/1", string.Empty, StringComparison.Ordinal));
        var fromUndeclared = Hl7Message.Parse(undeclared);
        Assert.Equal("MÜLLER", fromUndeclared.Get("PID-5"));
        Assert.Equal(undeclared, fromUndeclared.ToBytes());

        // Declared UTF-8 but actually Latin-1: still nothing lost.
        var mislabelled = Encoding.Latin1.GetBytes(latin1Text.Replace("8859/1", "UNICODE UTF-8", StringComparison.Ordinal));
        Assert.Equal(mislabelled, Hl7Message.Parse(mislabelled).ToBytes());
    }
}
