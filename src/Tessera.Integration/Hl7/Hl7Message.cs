using System.Text;

namespace Tessera.Integration.Hl7;

/// <summary>
/// An HL7 v2 message in ER7 (pipe) encoding. Parsing keeps every segment's original text, so an
/// untouched message serializes back to the same bytes; edits re-serialize only the segments they touch.
/// </summary>
public sealed class Hl7Message
{
    private readonly List<Hl7Segment> _lines;
    private readonly string _preamble;
    private IReadOnlyList<Hl7Segment>? _segments;

    private Hl7Message(string preamble, List<Hl7Segment> lines, Hl7Delimiters delimiters, Encoding encoding)
    {
        _preamble = preamble;
        _lines = lines;
        Delimiters = delimiters;
        TextEncoding = encoding;
    }

    public Hl7Delimiters Delimiters { get; }

    /// <summary>The encoding the bytes were read with (or will be written with).</summary>
    public Encoding TextEncoding { get; }

    /// <summary>The segments in order, MSH first; blank lines of the input are not listed.</summary>
    public IReadOnlyList<Hl7Segment> Segments => _segments ??= _lines.Where(l => !l.IsFiller).ToList();

    public Hl7Segment Header => Segments[0];

    /// <summary>MSH-9.1, e.g. ADT.</summary>
    public string MessageType => Header.Get(9)?.Trim() ?? string.Empty;

    /// <summary>MSH-9.2, e.g. A01; empty for a bare ACK.</summary>
    public string TriggerEvent => Header.Get(9, component: 2)?.Trim() ?? string.Empty;

    /// <summary>MSH-9.3, e.g. ADT_A01, when the sender gives it.</summary>
    public string MessageStructure => Header.Get(9, component: 3)?.Trim() ?? string.Empty;

    /// <summary>MSH-10.</summary>
    public string ControlId => Header.Get(10)?.Trim() ?? string.Empty;

    /// <summary>MSH-11.1: P, T or D.</summary>
    public string ProcessingId => Header.Get(11)?.Trim() ?? string.Empty;

    /// <summary>MSH-12.1, e.g. 2.5.1.</summary>
    public string Version => Header.Get(12)?.Trim() ?? string.Empty;

    /// <summary>MSH-3.1.</summary>
    public string SendingApplication => Header.Get(3) ?? string.Empty;

    /// <summary>MSH-4.1.</summary>
    public string SendingFacility => Header.Get(4) ?? string.Empty;

    /// <summary>MSH-5.1.</summary>
    public string ReceivingApplication => Header.Get(5) ?? string.Empty;

    /// <summary>MSH-6.1.</summary>
    public string ReceivingFacility => Header.Get(6) ?? string.Empty;

    /// <summary>MSH-18 (first repetition): the character set the sender declares.</summary>
    public string CharacterSet => Header.Get(18)?.Trim() ?? string.Empty;

    /// <summary>Parses ER7 text; throws <see cref="Hl7ParseException"/> naming the segment and field at fault.</summary>
    public static Hl7Message Parse(string text, Hl7ParseOptions? options = null) =>
        Hl7Parser.Parse(text, Hl7TextEncoding.Utf8, options ?? Hl7ParseOptions.Default);

    /// <summary>
    /// Parses message bytes. The text encoding comes from a UTF-8 byte order mark, else a recognised
    /// MSH-18 (8859/1, UNICODE UTF-8, ASCII), else UTF-8 when the bytes are valid UTF-8, else Latin-1.
    /// </summary>
    public static Hl7Message Parse(ReadOnlySpan<byte> bytes, Hl7ParseOptions? options = null)
    {
        var (text, encoding) = Hl7TextEncoding.Decode(bytes);
        return Hl7Parser.Parse(text, encoding, options ?? Hl7ParseOptions.Default);
    }

    public static bool TryParse(string text, out Hl7Message? message, out Hl7ParseException? error, Hl7ParseOptions? options = null)
    {
        try
        {
            message = Parse(text, options);
            error = null;
            return true;
        }
        catch (Hl7ParseException ex)
        {
            message = null;
            error = ex;
            return false;
        }
    }

    /// <summary>A new message holding only an MSH with the given delimiters; used to build replies.</summary>
    public static Hl7Message Create(Hl7Delimiters? delimiters = null, Encoding? encoding = null)
    {
        var d = delimiters ?? Hl7Delimiters.Default;
        var msh = new Hl7Segment("MSH" + d.Field + d.EncodingCharacters, "\r", d, isFiller: false);
        return new Hl7Message(string.Empty, [msh], d, encoding ?? Hl7TextEncoding.Utf8);
    }

    /// <summary>The nth (1-based) segment with this id, or null.</summary>
    public Hl7Segment? GetSegment(string id, int occurrence = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(occurrence, 1);
        foreach (var segment in Segments)
        {
            if (segment.Id == id && --occurrence == 0)
            {
                return segment;
            }
        }

        return null;
    }

    public IEnumerable<Hl7Segment> GetSegments(string id) => Segments.Where(s => s.Id == id);

    /// <summary>The decoded value at a path such as <c>PID-3(2).1</c>; null when the message does not have it.</summary>
    public string? Get(string path) => Get(Hl7Path.Parse(path));

    public string? Get(Hl7Path path) =>
        GetSegment(path.Segment, path.SegmentOccurrence)?.Get(path.Field, path.Repetition, path.Component ?? 1, path.Subcomponent ?? 1);

    /// <summary>The raw, still escaped text at a path, at exactly the level the path names.</summary>
    public string? GetRaw(string path)
    {
        var p = Hl7Path.Parse(path);
        return GetSegment(p.Segment, p.SegmentOccurrence)?.GetRaw(p.Field, p.Repetition, p.Component, p.Subcomponent);
    }

    /// <summary>Sets a plain value (escaped on write) at a path, adding the segment if it is missing.</summary>
    public void Set(string path, string value)
    {
        var p = Hl7Path.Parse(path);
        SegmentForWrite(p).Set(p.Field, value, p.Repetition, p.Component, p.Subcomponent);
    }

    /// <summary>Sets already-encoded ER7 text at a path.</summary>
    public void SetRaw(string path, string raw)
    {
        var p = Hl7Path.Parse(path);
        SegmentForWrite(p).SetRaw(p.Field, raw, p.Repetition, p.Component, p.Subcomponent);
    }

    /// <summary>Appends a new, empty segment (a Z-segment or any other).</summary>
    public Hl7Segment AddSegment(string id)
    {
        if (!Hl7Path.IsSegmentId(id) || id == "MSH")
        {
            throw new ArgumentException($"'{id}' is not a segment id that can be added.", nameof(id));
        }

        // The previous last segment may have had no terminator; it needs one now.
        var last = _lines[^1];
        if (last.Terminator.Length == 0)
        {
            last.Terminator = "\r";
        }

        var segment = new Hl7Segment(id, "\r", Delimiters, isFiller: false);
        _lines.Add(segment);
        _segments = null;
        return segment;
    }

    /// <summary>The ER7 text: the original text for untouched segments, with their original line endings.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(_preamble);
        foreach (var line in _lines)
        {
            line.AppendTo(sb);
        }

        return sb.ToString();
    }

    /// <summary>The message as bytes in <see cref="TextEncoding"/>.</summary>
    public byte[] ToBytes() => TextEncoding.GetBytes(ToString());

    internal static Hl7Message FromParts(string preamble, List<Hl7Segment> lines, Hl7Delimiters delimiters, Encoding encoding) =>
        new(preamble, lines, delimiters, encoding);

    private Hl7Segment SegmentForWrite(Hl7Path p)
    {
        var segment = GetSegment(p.Segment, p.SegmentOccurrence);
        if (segment is not null)
        {
            return segment;
        }

        var existing = GetSegments(p.Segment).Count();
        if (p.SegmentOccurrence != existing + 1)
        {
            throw new ArgumentException($"{p}: the message has {existing} {p.Segment} segment(s); only the next one can be added.", nameof(p));
        }

        return AddSegment(p.Segment);
    }
}
