namespace Tessera.Integration.Mllp;

/// <summary>MLLP release 1 block markers: &lt;VT&gt; message &lt;FS&gt;&lt;CR&gt;.</summary>
internal static class MllpFraming
{
    public const byte StartBlock = 0x0B;
    public const byte EndBlock = 0x1C;
    public const byte CarriageReturn = 0x0D;

    public static byte[] Frame(ReadOnlySpan<byte> message)
    {
        var framed = new byte[message.Length + 3];
        framed[0] = StartBlock;
        message.CopyTo(framed.AsSpan(1));
        framed[^2] = EndBlock;
        framed[^1] = CarriageReturn;
        return framed;
    }
}

/// <summary>
/// One decoded block. An oversized block keeps only its first bytes (enough to read the MSH and
/// reply to it) and is never handed on as a message.
/// </summary>
internal sealed record MllpFrame(byte[] Payload, bool IsOversized, long Length);
