namespace Tessera.Integration.Hl7;

/// <summary>
/// A message that cannot be accepted as ER7. Carries what an ERR segment needs: the segment,
/// its position, the field and the table 0357 code, so a NAK can point at the problem.
/// </summary>
public sealed class Hl7ParseException : FormatException
{
    public Hl7ParseException(string segment, int? segmentSequence, int? field, string reason, Hl7ErrorCode errorCode, bool isEncodingError = false)
        : base(Format(segment, segmentSequence, field, reason))
    {
        Segment = segment;
        SegmentSequence = segmentSequence;
        Field = field;
        Reason = reason;
        ErrorCode = errorCode;
        IsEncodingError = isEncodingError;
    }

    /// <summary>Segment id, e.g. <c>MSH</c>; the raw (possibly garbled) id for an invalid segment.</summary>
    public string Segment { get; }

    /// <summary>1-based position of the segment in the message, when known.</summary>
    public int? SegmentSequence { get; }

    /// <summary>Field number (MSH numbering, so MSH-9 is 9), when the problem is in one field.</summary>
    public int? Field { get; }

    public string Reason { get; }

    public Hl7ErrorCode ErrorCode { get; }

    /// <summary>
    /// True when the input cannot be read as ER7 at all: it does not start with MSH, or MSH-1/MSH-2
    /// do not give usable delimiters. Nothing else in such an input can be trusted.
    /// </summary>
    public bool IsEncodingError { get; }

    private static string Format(string segment, int? sequence, int? field, string reason)
    {
        var where = field is { } f ? $"{segment}-{f}" : segment;
        if (sequence is { } s && s > 1)
        {
            where = $"{where} (segment {s})";
        }

        return $"{where}: {reason}";
    }
}
