namespace Tessera.Integration.Hl7;

/// <summary>HL7 table 0357 (message error condition codes) as used in ERR segments.</summary>
public enum Hl7ErrorCode
{
    MessageAccepted = 0,
    SegmentSequenceError = 100,
    RequiredFieldMissing = 101,
    DataTypeError = 102,
    TableValueNotFound = 103,
    UnsupportedMessageType = 200,
    UnsupportedEventCode = 201,
    UnsupportedProcessingId = 202,
    UnsupportedVersionId = 203,
    ApplicationInternalError = 207,
}

internal static class Hl7ErrorCodeText
{
    public static string Describe(Hl7ErrorCode code) => code switch
    {
        Hl7ErrorCode.MessageAccepted => "Message accepted",
        Hl7ErrorCode.SegmentSequenceError => "Segment sequence error",
        Hl7ErrorCode.RequiredFieldMissing => "Required field missing",
        Hl7ErrorCode.DataTypeError => "Data type error",
        Hl7ErrorCode.TableValueNotFound => "Table value not found",
        Hl7ErrorCode.UnsupportedMessageType => "Unsupported message type",
        Hl7ErrorCode.UnsupportedEventCode => "Unsupported event code",
        Hl7ErrorCode.UnsupportedProcessingId => "Unsupported processing id",
        Hl7ErrorCode.UnsupportedVersionId => "Unsupported version id",
        Hl7ErrorCode.ApplicationInternalError => "Application internal error",
        _ => code.ToString(),
    };
}
