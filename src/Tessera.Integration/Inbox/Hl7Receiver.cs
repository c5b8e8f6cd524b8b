using Microsoft.Extensions.Logging;
using Tessera.Integration.Hl7;
using Tessera.Integration.Mapping;
using Tessera.Integration.Mllp;

namespace Tessera.Integration.Inbox;

/// <summary>
/// Answers each message received over MLLP: AR when it cannot be taken (unreadable header, unsupported type,
/// unknown sender), AE naming the segment and field when its content is wrong, and AA only once the raw message is
/// durably committed to the inbox. A message whose control id the sender already sent is acknowledged again (AA)
/// and not stored or processed a second time.
/// </summary>
internal sealed class Hl7Receiver(IReadOnlyList<Hl7Source> sources, InboxWriter writer, ILogger logger)
{
    public async ValueTask<byte[]> HandleAsync(MllpMessage received, CancellationToken ct)
    {
        Hl7Message message;
        try
        {
            message = received.Parse();
        }
        catch (Hl7ParseException e)
        {
            logger.LogWarning("HL7 message on connection {Connection} refused: {Reason}", received.ConnectionId, e.Message);
            return Hl7AckBuilder.ForParseError(received.Payload, e).ToBytes();
        }

        using var scope = logger.BeginScope(new Dictionary<string, object> { ["Hl7ControlId"] = message.ControlId, ["Hl7Source"] = Hl7Source.Key(message), ["MllpConnection"] = received.ConnectionId });
        if (MessageMapper.Unsupported(message) is { } unsupported)
        {
            return Refuse(message, Hl7AckCode.AR, unsupported);
        }

        if (message.ProcessingId is not ("" or "P" or "T" or "D"))
        {
            return Refuse(message, Hl7AckCode.AR, new Hl7AckError(Hl7ErrorCode.UnsupportedProcessingId, "MSH", 1, 11, $"MSH-11: processing id '{message.ProcessingId}' is not P (production), T (training) or D (debugging)"));
        }

        if (Hl7Source.Find(sources, message) is not { } source)
        {
            var text = $"MSH-4: sending application '{message.SendingApplication}' at facility '{message.SendingFacility}' is not a configured source; ask the Tessera operator to add it (Tessera:Hl7:Sources)";
            return Refuse(message, Hl7AckCode.AR, new Hl7AckError(Hl7ErrorCode.TableValueNotFound, "MSH", 1, 4, text));
        }

        MappedMessage mapped;
        try
        {
            mapped = MessageMapper.Map(message, source);
        }
        catch (Hl7MappingException e)
        {
            return Refuse(message, Hl7AckCode.AE, e.ToAckError());
        }

        var entry = new InboxEntry(Hl7Source.Key(message), message.ControlId, mapped.Event, mapped.PatientKey, received.Payload, received.ReceivedAt, received.RemoteEndPoint?.ToString());
        var isNew = await writer.AddAsync(entry, ct);
        if (!isNew)
        {
            logger.LogInformation("HL7 {Event} {ControlId} from {Source} was already received; acknowledged again, not processed twice", mapped.Event, message.ControlId, entry.Source);
        }

        return Ack(message, Hl7AckCode.AA, isNew ? null : $"Message {message.ControlId} was already received; it is not processed again.", null);
    }

    private byte[] Refuse(Hl7Message message, Hl7AckCode code, Hl7AckError error)
    {
        logger.LogWarning("HL7 {Type}^{Trigger} {ControlId} answered {Code}: {Reason}", message.MessageType, message.TriggerEvent, message.ControlId, code, error.Text);
        return Ack(message, code, error.Text, error);
    }

    /// <summary>Original mode answers AA/AE/AR; a sender asking for enhanced mode (MSH-15/16) gets the commit codes CA/CE/CR.</summary>
    private static byte[] Ack(Hl7Message message, Hl7AckCode code, string? text, Hl7AckError? error)
    {
        if (Hl7AckBuilder.IsEnhancedMode(message))
        {
            code = code switch
            {
                Hl7AckCode.AA => Hl7AckCode.CA,
                Hl7AckCode.AE => Hl7AckCode.CE,
                _ => Hl7AckCode.CR,
            };
        }

        return Hl7AckBuilder.Build(message, code, text, error is null ? null : [error]).ToBytes();
    }
}
