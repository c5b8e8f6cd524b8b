using System.Net;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mllp;

/// <summary>A complete message received over MLLP, as the bytes that arrived.</summary>
public sealed class MllpMessage
{
    internal MllpMessage(byte[] payload, EndPoint? remoteEndPoint, long connectionId, DateTimeOffset receivedAt)
    {
        Payload = payload;
        RemoteEndPoint = remoteEndPoint;
        ConnectionId = connectionId;
        ReceivedAt = receivedAt;
    }

    /// <summary>The message bytes between the block markers, unchanged.</summary>
    public byte[] Payload { get; }

    public EndPoint? RemoteEndPoint { get; }

    /// <summary>Identifies the connection within this listener; messages of one connection are handled in order.</summary>
    public long ConnectionId { get; }

    public DateTimeOffset ReceivedAt { get; }

    /// <summary>Parses the payload (charset from BOM / MSH-18, else UTF-8, else Latin-1).</summary>
    public Hl7Message Parse(Hl7ParseOptions? options = null) => Hl7Message.Parse(Payload, options);
}
