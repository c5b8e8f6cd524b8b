namespace Tessera.Integration.Hl7;

/// <summary>HL7 table 0008 acknowledgment codes. C* codes are the enhanced-mode commit acknowledgments.</summary>
public enum Hl7AckCode
{
    /// <summary>Application accept.</summary>
    AA,

    /// <summary>Application error: the content is wrong; resending the same message will not help.</summary>
    AE,

    /// <summary>Application reject: the message was not processed (unsupported type/version, unreadable, or a receiver fault).</summary>
    AR,

    /// <summary>Commit accept (enhanced mode).</summary>
    CA,

    /// <summary>Commit error (enhanced mode).</summary>
    CE,

    /// <summary>Commit reject (enhanced mode).</summary>
    CR,
}

/// <summary>One ERR segment: where the problem is and its table 0357 code.</summary>
public sealed record Hl7AckError(Hl7ErrorCode Code, string? Segment = null, int? SegmentSequence = null, int? Field = null, string? Text = null)
{
    public static Hl7AckError From(Hl7ParseException error)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new(error.ErrorCode, error.Segment, error.SegmentSequence, error.Field, error.Message);
    }
}
