using System.Globalization;
using System.Text;

namespace Tessera.Integration.Hl7;

/// <summary>
/// Builds ACK messages: sender and receiver swapped, MSA echoing the control id, and ERR segments
/// that point at the failing segment and field (ERR-2/ERR-3 from v2.5, ERR-1 before).
/// </summary>
public static class Hl7AckBuilder
{
    /// <summary>Used for a reply when the incoming message does not say which version it speaks.</summary>
    public const string FallbackVersion = "2.5.1";

    /// <summary>True when the sender asked for enhanced-mode acknowledgments (MSH-15 or MSH-16 set).</summary>
    public static bool IsEnhancedMode(Hl7Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return !string.IsNullOrWhiteSpace(message.Header.Get(15)) || !string.IsNullOrWhiteSpace(message.Header.Get(16));
    }

    /// <summary>Builds an acknowledgment of <paramref name="original"/>.</summary>
    public static Hl7Message Build(
        Hl7Message original,
        Hl7AckCode code,
        string? text = null,
        IEnumerable<Hl7AckError>? errors = null,
        string? controlId = null,
        DateTimeOffset? timestamp = null)
    {
        ArgumentNullException.ThrowIfNull(original);
        var d = original.Delimiters;
        var ack = Hl7Message.Create(d, original.TextEncoding);
        var msh = ack.Header;
        var source = original.Header;
        var version = IsSupportedVersion(original.Version) ? original.Version : FallbackVersion;

        msh.SetRaw(3, source.GetRaw(5) ?? string.Empty);
        msh.SetRaw(4, source.GetRaw(6) ?? string.Empty);
        msh.SetRaw(5, source.GetRaw(3) ?? string.Empty);
        msh.SetRaw(6, source.GetRaw(4) ?? string.Empty);
        msh.SetRaw(7, FormatTimestamp(timestamp ?? DateTimeOffset.UtcNow));
        var trigger = original.TriggerEvent;
        var type = "ACK";
        if (trigger.Length > 0)
        {
            type += d.Component + SafeText(trigger, d);
            if (CompareVersion(version, "2.3.1") >= 0)
            {
                type += d.Component + "ACK";
            }
        }

        msh.SetRaw(9, type);
        msh.Set(10, controlId ?? NewControlId());
        var processing = source.GetRaw(11);
        msh.SetRaw(11, string.IsNullOrEmpty(processing) ? "P" : processing);
        msh.Set(12, version);
        var charset = source.GetRaw(18);
        if (!string.IsNullOrEmpty(charset))
        {
            msh.SetRaw(18, charset);
        }

        var msa = ack.AddSegment("MSA");
        msa.SetRaw(1, code.ToString());
        msa.SetRaw(2, SafeText(original.ControlId, d));
        if (!string.IsNullOrEmpty(text))
        {
            msa.SetRaw(3, SafeText(text, d));
        }

        foreach (var error in errors ?? [])
        {
            AddError(ack, error, version);
        }

        return ack;
    }

    /// <summary>
    /// The NAK for input that failed to parse. What can still be read of its MSH (sender, control id,
    /// version) is used; header and encoding problems give AR (the message was not processed), other
    /// structural problems AE.
    /// </summary>
    public static Hl7Message ForParseError(string raw, Hl7ParseException error, string? controlId = null, DateTimeOffset? timestamp = null)
    {
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentNullException.ThrowIfNull(error);
        return ForParseError(TryReadHeader(raw), error, controlId, timestamp);
    }

    /// <inheritdoc cref="ForParseError(string, Hl7ParseException, string?, DateTimeOffset?)"/>
    public static Hl7Message ForParseError(ReadOnlySpan<byte> raw, Hl7ParseException error, string? controlId = null, DateTimeOffset? timestamp = null)
    {
        ArgumentNullException.ThrowIfNull(error);
        return ForParseError(TryReadHeader(Hl7TextEncoding.Decode(raw).Text), error, controlId, timestamp);
    }

    /// <summary>A reject for input the receiver could not handle at all (too large, receiver fault).</summary>
    public static Hl7Message Reject(ReadOnlySpan<byte> raw, Hl7ErrorCode code, string text, string? controlId = null, DateTimeOffset? timestamp = null)
    {
        var original = TryReadHeader(Hl7TextEncoding.Decode(raw).Text) ?? Hl7Message.Create();
        return Build(original, Hl7AckCode.AR, text, [new Hl7AckError(code, Text: text)], controlId, timestamp);
    }

    private static Hl7Message ForParseError(Hl7Message? original, Hl7ParseException error, string? controlId, DateTimeOffset? timestamp)
    {
        var headerProblem = error.IsEncodingError || (error.Segment == "MSH" && error.SegmentSequence is null or 1);
        var code = headerProblem ? Hl7AckCode.AR : Hl7AckCode.AE;
        return Build(original ?? Hl7Message.Create(), code, error.Message, [Hl7AckError.From(error)], controlId, timestamp);
    }

    // Only the first line matters for a reply, and it must not fail again on what follows.
    private static Hl7Message? TryReadHeader(string raw)
    {
        var start = raw.Length > 0 && raw[0] == '\uFEFF' ? 1 : 0;
        var end = raw.AsSpan(start).IndexOfAny('\r', '\n');
        var firstLine = end < 0 ? raw[start..] : raw.Substring(start, end);
        return Hl7Message.TryParse(firstLine, out var header, out _, Hl7ParseOptions.Lenient) ? header : null;
    }

    private static void AddError(Hl7Message ack, Hl7AckError error, string version)
    {
        var d = ack.Delimiters;
        var err = ack.AddSegment("ERR");
        var segment = SafeText(error.Segment ?? string.Empty, d);
        var sequence = error.SegmentSequence?.ToString(CultureInfo.InvariantCulture) ?? string.Empty;
        var field = error.Field?.ToString(CultureInfo.InvariantCulture) ?? string.Empty;
        var codeNumber = ((int)error.Code).ToString(CultureInfo.InvariantCulture);
        var description = SafeText(Hl7ErrorCodeText.Describe(error.Code), d);
        if (CompareVersion(version, "2.5") >= 0)
        {
            if (segment.Length > 0)
            {
                err.SetRaw(2, TrimTrailing(string.Join(d.Component, segment, sequence, field), d.Component));
            }

            err.SetRaw(3, string.Join(d.Component, codeNumber, description, "HL70357"));
            err.SetRaw(4, "E");
            if (!string.IsNullOrEmpty(error.Text))
            {
                err.SetRaw(7, SafeText(error.Text, d));
            }
        }
        else
        {
            // ERR-1 (ELD): segment^sequence^field^code, the code being a CE written with subcomponents.
            var sub = d.Subcomponent is { } s ? s.ToString() : null;
            var ce = sub is null ? codeNumber : string.Join(sub, codeNumber, description, "HL70357");
            err.SetRaw(1, string.Join(d.Component, segment, sequence, field, ce));
        }
    }

    private static string TrimTrailing(string value, char separator) => value.TrimEnd(separator);

    /// <summary>Escapes text for a field; with no escape character declared, delimiters are replaced by spaces.</summary>
    private static string SafeText(string text, Hl7Delimiters d)
    {
        if (d.Escape is not null)
        {
            return Hl7Escaping.Escape(text, d);
        }

        var sb = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            sb.Append(d.IsDelimiter(c) || c is '\r' or '\n' ? ' ' : c);
        }

        return sb.ToString();
    }

    internal static string FormatTimestamp(DateTimeOffset value)
    {
        var offset = value.Offset;
        var sign = offset < TimeSpan.Zero ? '-' : '+';
        offset = offset.Duration();
        return value.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture)
            + sign + offset.Hours.ToString("00", CultureInfo.InvariantCulture) + offset.Minutes.ToString("00", CultureInfo.InvariantCulture);
    }

    private static string NewControlId() => Guid.NewGuid().ToString("N")[..20].ToUpperInvariant();

    internal static bool IsSupportedVersion(string version) =>
        version.Length >= 3 && version[0] == '2' && version[1] == '.' && version[2] is >= '1' and <= '8'
        && version.Split('.').All(p => p.Length is > 0 and <= 2 && p.All(char.IsAsciiDigit)) && version.Split('.').Length <= 3;

    internal static int CompareVersion(string left, string right)
    {
        var l = left.Split('.');
        var r = right.Split('.');
        for (var i = 0; i < Math.Max(l.Length, r.Length); i++)
        {
            var a = i < l.Length && int.TryParse(l[i], NumberStyles.None, CultureInfo.InvariantCulture, out var x) ? x : 0;
            var b = i < r.Length && int.TryParse(r[i], NumberStyles.None, CultureInfo.InvariantCulture, out var y) ? y : 0;
            if (a != b)
            {
                return a.CompareTo(b);
            }
        }

        return 0;
    }
}
