using System.Text;
using System.Text.RegularExpressions;

namespace Tessera.Integration.Hl7;

/// <summary>Splits ER7 text into segments and checks what a receiver must be able to rely on.</summary>
internal static partial class Hl7Parser
{
    private const char ByteOrderMark = '\uFEFF';

    public static Hl7Message Parse(string text, Encoding encoding, Hl7ParseOptions options)
    {
        ArgumentNullException.ThrowIfNull(text);
        var preamble = text.Length > 0 && text[0] == ByteOrderMark ? text[..1] : string.Empty;
        var lines = SplitLines(text, preamble.Length);

        var headerIndex = lines.FindIndex(l => !IsBlank(l.Text));
        if (headerIndex < 0 || !WithoutIndent(lines[headerIndex].Text).StartsWith("MSH", StringComparison.Ordinal))
        {
            throw new Hl7ParseException("MSH", 1, null, "missing segment; message must start with MSH", Hl7ErrorCode.SegmentSequenceError, isEncodingError: true);
        }

        var delimiters = ReadDelimiters(WithoutIndent(lines[headerIndex].Text), options.Strict);
        var segments = new List<Hl7Segment>(lines.Count);
        foreach (var (lineText, terminator) in lines)
        {
            segments.Add(new Hl7Segment(lineText, terminator, delimiters, IsBlank(lineText)));
        }

        var message = Hl7Message.FromParts(preamble, segments, delimiters, encoding);
        if (options.Strict)
        {
            ValidateSegments(message, delimiters);
            ValidateHeader(message.Header);
        }

        return message;
    }

    private static List<(string Text, string Terminator)> SplitLines(string text, int start)
    {
        var lines = new List<(string, string)>(16);
        var position = start;
        while (position < text.Length)
        {
            var end = text.AsSpan(position).IndexOfAny('\r', '\n');
            if (end < 0)
            {
                lines.Add((text[position..], string.Empty));
                break;
            }

            end += position;
            var terminatorLength = text[end] == '\r' && end + 1 < text.Length && text[end + 1] == '\n' ? 2 : 1;
            lines.Add((text[position..end], Terminator(text, end, terminatorLength)));
            position = end + terminatorLength;
        }

        return lines;
    }

    private static string Terminator(string text, int at, int length) =>
        length == 2 ? "\r\n" : text[at] == '\r' ? "\r" : "\n";

    private static bool IsBlank(string line) => string.IsNullOrWhiteSpace(line);

    // Pretty-printed or hand-edited messages indent segments; the indent carries no meaning.
    internal static string WithoutIndent(string line) => line.TrimStart(' ', '\t');

    private static Hl7Delimiters ReadDelimiters(string msh, bool strict)
    {
        if (msh.Length < 4)
        {
            throw Encoding(1, "field separator is missing");
        }

        var field = msh[3];
        if (char.IsAsciiLetterOrDigit(field) || char.IsWhiteSpace(field) || (strict && !IsPrintableAsciiPunctuation(field)))
        {
            throw Encoding(1, $"'{Show(field)}' cannot be the field separator; use a printable, non-alphanumeric character such as '|'");
        }

        var end = msh.IndexOf(field, 4);
        var encodingChars = end < 0 ? msh[4..] : msh[4..end];
        if (encodingChars.Length == 0)
        {
            throw Encoding(2, "encoding characters are missing; expected e.g. ^~\\&");
        }

        var seen = new HashSet<char> { field };
        foreach (var c in encodingChars.AsSpan(0, Math.Min(encodingChars.Length, 5)))
        {
            if (!seen.Add(c))
            {
                throw Encoding(2, $"encoding characters '{Show(encodingChars)}' repeat '{Show(c)}'; every delimiter must be distinct");
            }

            if (strict && (!IsPrintableAsciiPunctuation(c)))
            {
                throw Encoding(2, $"'{Show(c)}' cannot be a delimiter; delimiters must be printable, non-alphanumeric ASCII");
            }
        }

        if (strict && encodingChars.Length > 5)
        {
            throw Encoding(2, $"encoding characters '{Show(encodingChars)}' are longer than the 4 (5 from v2.7) the standard defines");
        }

        char? At(int i) => i < encodingChars.Length ? encodingChars[i] : null;
        return new Hl7Delimiters(field, encodingChars[0], At(1), At(2), At(3), At(4));
    }

    private static void ValidateSegments(Hl7Message message, Hl7Delimiters delimiters)
    {
        var sequence = 0;
        foreach (var segment in message.Segments)
        {
            sequence++;
            var text = WithoutIndent(segment.ToString());
            if (text.Length < 3 || !Hl7Path.IsSegmentId(text.AsSpan(0, 3)) || (text.Length > 3 && text[3] != delimiters.Field))
            {
                var shown = Show(text.Length > 8 ? text[..8] + "..." : text);
                throw new Hl7ParseException(
                    segment.Id.Length is > 0 and <= 3 ? Show(segment.Id) : "segment",
                    sequence,
                    null,
                    $"invalid segment id in '{shown}'; a segment starts with three upper-case letters or digits",
                    Hl7ErrorCode.SegmentSequenceError);
            }

            if (sequence > 1 && segment.IsMsh)
            {
                throw new Hl7ParseException("MSH", sequence, null, "a second MSH segment; send one message per frame (batches are not accepted)", Hl7ErrorCode.SegmentSequenceError);
            }
        }
    }

    private static void ValidateHeader(Hl7Segment msh)
    {
        if (string.IsNullOrWhiteSpace(msh.Get(9)))
        {
            throw Required(9, "message type is empty");
        }

        if (string.IsNullOrWhiteSpace(msh.Get(10)))
        {
            throw Required(10, "control id is empty");
        }

        var version = msh.Get(12)?.Trim();
        if (string.IsNullOrWhiteSpace(version))
        {
            throw Required(12, "version is empty");
        }

        if (!SupportedVersion().IsMatch(version))
        {
            throw new Hl7ParseException("MSH", 1, 12, $"unsupported version '{Show(version)}'; versions 2.1 to 2.8 are accepted", Hl7ErrorCode.UnsupportedVersionId);
        }
    }

    private static Hl7ParseException Encoding(int field, string reason) =>
        new("MSH", 1, field, reason, Hl7ErrorCode.DataTypeError, isEncodingError: true);

    private static Hl7ParseException Required(int field, string reason) =>
        new("MSH", 1, field, reason, Hl7ErrorCode.RequiredFieldMissing);

    private static bool IsPrintableAsciiPunctuation(char c) => c is > ' ' and < '\x7F' && !char.IsAsciiLetterOrDigit(c);

    // Error text goes into logs and NAKs: control characters are shown as \xNN so they cannot break either.
    private static string Show(string s)
    {
        if (s.All(c => c is >= ' ' and < '\x7F'))
        {
            return s;
        }

        var sb = new StringBuilder(s.Length + 8);
        foreach (var c in s)
        {
            sb.Append(c is >= ' ' and < '\x7F' ? c.ToString() : $"\\x{(int)c:X2}");
        }

        return sb.ToString();
    }

    private static string Show(char c) => Show(c.ToString());

    [GeneratedRegex(@"^2\.[1-8](\.[0-9]{1,2})?$", RegexOptions.CultureInvariant)]
    private static partial Regex SupportedVersion();
}
