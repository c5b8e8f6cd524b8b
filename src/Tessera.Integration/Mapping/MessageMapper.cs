using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mapping;

/// <summary>
/// Maps a parsed message from a configured source to UK Core-shaped FHIR resources. Pure: it reads the message
/// and writes nothing, so the listener can use it to answer AE before storing, and the pipeline to write.
/// </summary>
internal static class MessageMapper
{
    public const string UkCore = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-";

    private static readonly Dictionary<string, HashSet<string>> Supported = new(StringComparer.Ordinal)
    {
        ["ADT"] = ["A01", "A02", "A03", "A04", "A05", "A08", "A11", "A12", "A13", "A28", "A31", "A40"],
        ["ORU"] = ["R01"],
        ["SIU"] = ["S12", "S13", "S14", "S15"],
        ["MDM"] = ["T02"],
    };

    /// <summary>Null when Tessera maps this type and event; otherwise the AR error saying what is not supported.</summary>
    public static Hl7AckError? Unsupported(Hl7Message message)
    {
        if (!Supported.TryGetValue(message.MessageType, out var events))
        {
            return new Hl7AckError(Hl7ErrorCode.UnsupportedMessageType, "MSH", 1, 9, $"MSH-9: message type '{message.MessageType}' is not accepted; Tessera takes {string.Join(", ", Supported.Keys)}.");
        }

        if (!events.Contains(message.TriggerEvent))
        {
            return new Hl7AckError(Hl7ErrorCode.UnsupportedEventCode, "MSH", 1, 9, $"MSH-9: {message.MessageType} event '{message.TriggerEvent}' is not accepted; Tessera takes {message.MessageType} {string.Join(", ", events)}.");
        }

        return null;
    }

    /// <summary>Maps the message; throws <see cref="Hl7MappingException"/> naming the segment and field when its content is wrong.</summary>
    public static MappedMessage Map(Hl7Message message, Hl7Source source)
    {
        var context = new MappingContext(message, source);
        var mapped = new MappedMessage { Event = message.MessageType + "^" + message.TriggerEvent };
        switch (message.MessageType)
        {
            case "ADT":
                AdtMapping.Map(context, mapped);
                break;
            case "ORU":
                ResultMapping.Map(context, mapped);
                break;
            case "SIU":
                AppointmentMapping.Map(context, mapped);
                break;
            case "MDM":
                DocumentMapping.Map(context, mapped);
                break;
            default:
                throw new Hl7MappingException("MSH", 9, $"message type '{message.MessageType}' is not mapped", Hl7ErrorCode.UnsupportedMessageType) { SegmentSequence = 1 };
        }

        return mapped;
    }

    public static Meta Profile(string name) => new() { Profile = [UkCore + name] };
}

/// <summary>The message being mapped, its source, and errors that point at a segment and field.</summary>
internal sealed class MappingContext(Hl7Message message, Hl7Source source)
{
    public Hl7Message Message { get; } = message;

    public Hl7Source Source { get; } = source;

    public string Trigger => Message.TriggerEvent;

    public Hl7MappingException Fail(Hl7Segment segment, int? field, string reason, Hl7ErrorCode code = Hl7ErrorCode.RequiredFieldMissing) =>
        new(segment.Id, field, reason, code) { SegmentSequence = Position(segment) };

    public Hl7Segment Require(string segmentId, string what) => Message.GetSegment(segmentId) ?? throw MissingSegment(segmentId, what);

    public string Required(Hl7Segment segment, int field, string what, int component = 1) =>
        V2.Value(segment, field, 1, component) ?? throw Fail(segment, field, $"{what} is required");

    public string? DateTime(Hl7Segment? segment, int field, int component = 1)
    {
        if (segment is null)
        {
            return null;
        }

        try
        {
            return V2.DateTime(V2.Value(segment, field, 1, component), Source.TimeZone);
        }
        catch (FormatException e)
        {
            throw Fail(segment, field, e.Message, Hl7ErrorCode.DataTypeError);
        }
    }

    public DateTimeOffset? Instant(Hl7Segment? segment, int field)
    {
        if (segment is null)
        {
            return null;
        }

        try
        {
            return V2.Instant(V2.Value(segment, field), Source.TimeZone);
        }
        catch (FormatException e)
        {
            throw Fail(segment, field, e.Message, Hl7ErrorCode.DataTypeError);
        }
    }

    /// <summary>The segments after <paramref name="start"/> up to the next segment with one of the stop ids.</summary>
    public IEnumerable<Hl7Segment> Following(Hl7Segment start, params string[] stop)
    {
        var segments = Message.Segments;
        for (var i = Position(start); i < segments.Count; i++)
        {
            if (stop.Contains(segments[i].Id))
            {
                yield break;
            }

            yield return segments[i];
        }
    }

    public int Position(Hl7Segment segment)
    {
        var segments = Message.Segments;
        for (var i = 0; i < segments.Count; i++)
        {
            if (ReferenceEquals(segments[i], segment))
            {
                return i + 1;
            }
        }

        return 0;
    }

    private Hl7MappingException MissingSegment(string segmentId, string what) =>
        new(segmentId, null, $"missing segment; {Message.MessageType}^{Trigger} needs {what}", Hl7ErrorCode.SegmentSequenceError);
}
