using System.Globalization;
using System.Text;

namespace Tessera.Integration.Hl7;

/// <summary>ER7 escape sequences (HL7 v2 chapter 2, "escape sequences supporting delimiter characters").</summary>
public static class Hl7Escaping
{
    private static readonly Encoding StrictUtf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Writes <paramref name="value"/> so it can stand in a field: delimiters become \F\ \S\ \T\ \R\ \E\ \P\,
    /// and CR/LF become \X0D\ / \X0A\ because a raw CR would end the segment.
    /// </summary>
    public static string Escape(string value, Hl7Delimiters delimiters)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(delimiters);
        if (!NeedsEscaping(value, delimiters))
        {
            return value;
        }

        if (delimiters.Escape is not { } esc)
        {
            throw new ArgumentException("The message declares no escape character (MSH-2), so this value cannot be written.", nameof(value));
        }

        var sb = new StringBuilder(value.Length + 8);
        foreach (var c in value)
        {
            string? code = null;
            if (c == delimiters.Field)
            {
                code = "F";
            }
            else if (c == delimiters.Component)
            {
                code = "S";
            }
            else if (c == delimiters.Subcomponent)
            {
                code = "T";
            }
            else if (c == delimiters.Repetition)
            {
                code = "R";
            }
            else if (c == esc)
            {
                code = "E";
            }
            else if (c == delimiters.Truncation)
            {
                code = "P";
            }
            else if (c == '\r')
            {
                code = "X0D";
            }
            else if (c == '\n')
            {
                code = "X0A";
            }

            if (code is null)
            {
                sb.Append(c);
            }
            else
            {
                sb.Append(esc).Append(code).Append(esc);
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// Decodes escape sequences for a typed read. \.br\ becomes a line feed; highlighting and other
    /// formatting commands that have no plain-text meaning are dropped; an unterminated or unknown
    /// sequence is kept as written, because guessing would change the data.
    /// </summary>
    public static string Unescape(string value, Hl7Delimiters delimiters)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(delimiters);
        if (delimiters.Escape is not { } esc || value.IndexOf(esc, StringComparison.Ordinal) < 0)
        {
            return value;
        }

        var sb = new StringBuilder(value.Length);
        var i = 0;
        while (i < value.Length)
        {
            var c = value[i];
            if (c != esc)
            {
                sb.Append(c);
                i++;
                continue;
            }

            var end = value.IndexOf(esc, i + 1);
            if (end < 0)
            {
                sb.Append(value, i, value.Length - i);
                break;
            }

            var body = value.AsSpan(i + 1, end - i - 1);
            if (TryDecode(body, delimiters, sb))
            {
                i = end + 1;
            }
            else
            {
                // A sequence we do not know (e.g. a site-defined \Zxx\): keep it exactly as written.
                sb.Append(value, i, end - i + 1);
                i = end + 1;
            }
        }

        return sb.ToString();
    }

    internal static bool NeedsEscaping(string value, Hl7Delimiters delimiters)
    {
        foreach (var c in value)
        {
            if (c == '\r' || c == '\n' || delimiters.IsDelimiter(c))
            {
                return true;
            }
        }

        return false;
    }

    private static bool TryDecode(ReadOnlySpan<char> body, Hl7Delimiters d, StringBuilder sb)
    {
        if (body.Length == 1)
        {
            char? replacement = body[0] switch
            {
                'F' => d.Field,
                'S' => d.Component,
                'T' => d.Subcomponent,
                'R' => d.Repetition,
                'E' => d.Escape,
                'P' => d.Truncation,
                _ => null,
            };
            if (replacement is { } r)
            {
                sb.Append(r);
                return true;
            }

            // \H\ and \N\ switch highlighting on and off: nothing to show in plain text.
            return body[0] is 'H' or 'N';
        }

        if (body.Length > 1 && body[0] == 'X')
        {
            return TryDecodeHex(body[1..], sb);
        }

        if (body.Length > 1 && body[0] == '.')
        {
            var command = body[1..];
            if (command.SequenceEqual("br"))
            {
                sb.Append('\n');
                return true;
            }

            if (command.StartsWith("sp"))
            {
                var count = 1;
                if (command.Length > 2 && !int.TryParse(command[2..].TrimStart('+'), NumberStyles.None, CultureInfo.InvariantCulture, out count))
                {
                    return false;
                }

                sb.Append('\n', Math.Clamp(count, 0, 100));
                return true;
            }

            // Layout commands (.fi .nf .in .ti .sk .ce) only steer a formatted display.
            return command.StartsWith("fi") || command.StartsWith("nf") || command.StartsWith("in")
                || command.StartsWith("ti") || command.StartsWith("sk") || command.StartsWith("ce");
        }

        // Character set switches (\Cxxyy\, \Mxxyyzz\) are markers, the text around them is already decoded.
        return body.Length > 1 && (body[0] == 'C' || body[0] == 'M') && IsHex(body[1..]);
    }

    private static bool TryDecodeHex(ReadOnlySpan<char> hex, StringBuilder sb)
    {
        if (hex.Length % 2 != 0 || !IsHex(hex))
        {
            return false;
        }

        var bytes = Convert.FromHexString(hex);
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            text = Encoding.Latin1.GetString(bytes);
        }

        sb.Append(text);
        return true;
    }

    private static bool IsHex(ReadOnlySpan<char> s)
    {
        foreach (var c in s)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }

        return s.Length > 0;
    }
}
