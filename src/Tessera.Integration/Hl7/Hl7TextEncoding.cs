using System.Text;

namespace Tessera.Integration.Hl7;

/// <summary>
/// Chooses how to turn message bytes into text. Every choice is lossless for the bytes it accepts,
/// so encoding the text again gives back the same bytes.
/// </summary>
internal static class Hl7TextEncoding
{
    /// <summary>Used to test whether bytes are UTF-8; never kept on a message.</summary>
    public static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>What a UTF-8 message writes with: no preamble, and an edit cannot make writing throw.</summary>
    public static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    public static (string Text, Encoding Encoding) Decode(ReadOnlySpan<byte> bytes)
    {
        var hasBom = bytes.StartsWith("\uFEFF"u8);
        if (!hasBom)
        {
            var declared = FromCharset(ReadCharset(bytes), bytes);
            if (declared is not null && TryDecode(declared, bytes, out var text))
            {
                return (text, declared == StrictUtf8 ? Utf8 : declared);
            }
        }

        return TryDecode(StrictUtf8, bytes, out var utf8)
            ? (utf8, Utf8)
            : (Encoding.Latin1.GetString(bytes), Encoding.Latin1);
    }

    /// <summary>The encoding MSH-18 names, or null when it names none we can decode losslessly.</summary>
    internal static Encoding? FromCharset(string? charset, ReadOnlySpan<byte> bytes)
    {
        switch (charset?.Trim().ToUpperInvariant())
        {
            case "8859/1":
                return Encoding.Latin1;
            case "UNICODE UTF-8" or "UTF-8" or "UTF8":
                return StrictUtf8;
            case "ASCII":
                foreach (var b in bytes)
                {
                    if (b > 0x7F)
                    {
                        return null;
                    }
                }

                return Encoding.ASCII;
            default:
                return null;
        }
    }

    /// <summary>The first MSH-18 value, read from the bytes: the delimiters are ASCII whatever the charset.</summary>
    internal static string? ReadCharset(ReadOnlySpan<byte> bytes)
    {
        var start = 0;
        while (start < bytes.Length && bytes[start] is (byte)'\r' or (byte)'\n' or (byte)' ' or (byte)'\t')
        {
            start++;
        }

        var line = bytes[start..];
        var end = line.IndexOfAny((byte)'\r', (byte)'\n');
        if (end >= 0)
        {
            line = line[..end];
        }

        if (line.Length < 4 || !line.StartsWith("MSH"u8))
        {
            return null;
        }

        var separator = line[3];
        var field = 1;
        var position = 3;
        while (field < 17)
        {
            var next = line[(position + 1)..].IndexOf(separator);
            if (next < 0)
            {
                return null;
            }

            position += next + 1;
            field++;
        }

        var value = line[(position + 1)..];
        var stop = 0;
        while (stop < value.Length && (char.IsAsciiLetterOrDigit((char)value[stop]) || value[stop] is (byte)' ' or (byte)'/' or (byte)'-' or (byte)'_' or (byte)'.'))
        {
            stop++;
        }

        return stop == 0 ? null : Encoding.ASCII.GetString(value[..stop]);
    }

    private static bool TryDecode(Encoding encoding, ReadOnlySpan<byte> bytes, out string text)
    {
        try
        {
            text = encoding.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = string.Empty;
            return false;
        }
    }
}
