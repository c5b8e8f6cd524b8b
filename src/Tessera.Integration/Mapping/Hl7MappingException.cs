using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mapping;

/// <summary>The message's content cannot be mapped: names the segment (and its position) and field, for the ERR segment of an AE.</summary>
internal sealed class Hl7MappingException(string? segmentId, int? field, string reason, Hl7ErrorCode code = Hl7ErrorCode.RequiredFieldMissing)
    : Exception(Describe(segmentId, field, reason))
{
    public string? SegmentId { get; } = segmentId;

    public int? SegmentSequence { get; init; }

    public int? Field { get; } = field;

    public Hl7ErrorCode Code { get; } = code;

    public Hl7AckError ToAckError() => new(Code, SegmentId, SegmentSequence, Field, Message);

    private static string Describe(string? segment, int? field, string reason) =>
        segment is null ? reason : field is null ? $"{segment}: {reason}" : $"{segment}-{field}: {reason}";
}
