using System.Globalization;

namespace Tessera.Integration.Hl7;

/// <summary>
/// A location in a message: <c>PID-3</c>, <c>PID-3(2).1</c>, <c>PID-3.1.2</c>, <c>OBX[2]-5</c>, <c>MSH-9-2</c>.
/// Everything is 1-based: the segment occurrence in brackets, the field repetition in parentheses,
/// then component and subcomponent after '.' (or '-', as terser-style paths write them).
/// </summary>
public readonly record struct Hl7Path(string Segment, int SegmentOccurrence, int Field, int Repetition, int? Component, int? Subcomponent)
{
    public static Hl7Path Parse(string path)
    {
        if (TryParse(path, out var result, out var error))
        {
            return result;
        }

        throw new FormatException($"'{path}' is not an HL7 path: {error}");
    }

    public static bool TryParse(string? path, out Hl7Path result) => TryParse(path, out result, out _);

    private static bool TryParse(string? path, out Hl7Path result, out string error)
    {
        result = default;
        error = "expected SEG[n]-field(rep).component.subcomponent";
        if (string.IsNullOrWhiteSpace(path))
        {
            return false;
        }

        var s = path.AsSpan().Trim();
        if (s.Length < 3 || !IsSegmentId(s[..3]))
        {
            error = "it must start with a three character segment id";
            return false;
        }

        var segment = s[..3].ToString();
        s = s[3..];
        var occurrence = 1;
        if (!s.IsEmpty && s[0] == '[')
        {
            if (!TryReadBracketed(ref s, '[', ']', out occurrence))
            {
                error = "bad segment occurrence";
                return false;
            }
        }

        if (s.IsEmpty || s[0] != '-')
        {
            error = "a field number must follow the segment id, as in PID-3";
            return false;
        }

        s = s[1..];
        if (!TryReadNumber(ref s, out var field))
        {
            error = "bad field number";
            return false;
        }

        var repetition = 1;
        if (!s.IsEmpty && s[0] == '(')
        {
            if (!TryReadBracketed(ref s, '(', ')', out repetition))
            {
                error = "bad repetition";
                return false;
            }
        }

        int? component = null;
        int? subcomponent = null;
        if (!s.IsEmpty)
        {
            if (s[0] is not ('.' or '-'))
            {
                error = $"unexpected '{s[0]}'";
                return false;
            }

            s = s[1..];
            if (!TryReadNumber(ref s, out var c))
            {
                error = "bad component number";
                return false;
            }

            component = c;
        }

        if (!s.IsEmpty)
        {
            if (s[0] is not ('.' or '-'))
            {
                error = $"unexpected '{s[0]}'";
                return false;
            }

            s = s[1..];
            if (!TryReadNumber(ref s, out var sc))
            {
                error = "bad subcomponent number";
                return false;
            }

            subcomponent = sc;
        }

        if (!s.IsEmpty)
        {
            error = "unexpected text after the subcomponent";
            return false;
        }

        result = new Hl7Path(segment, occurrence, field, repetition, component, subcomponent);
        return true;
    }

    public override string ToString()
    {
        var text = Segment;
        if (SegmentOccurrence != 1)
        {
            text += $"[{SegmentOccurrence.ToString(CultureInfo.InvariantCulture)}]";
        }

        text += "-" + Field.ToString(CultureInfo.InvariantCulture);
        if (Repetition != 1)
        {
            text += $"({Repetition.ToString(CultureInfo.InvariantCulture)})";
        }

        if (Component is { } c)
        {
            text += "." + c.ToString(CultureInfo.InvariantCulture);
        }

        if (Subcomponent is { } sc)
        {
            text += "." + sc.ToString(CultureInfo.InvariantCulture);
        }

        return text;
    }

    internal static bool IsSegmentId(ReadOnlySpan<char> id) =>
        id.Length == 3 && char.IsAsciiLetterUpper(id[0])
        && (char.IsAsciiLetterUpper(id[1]) || char.IsAsciiDigit(id[1]))
        && (char.IsAsciiLetterUpper(id[2]) || char.IsAsciiDigit(id[2]));

    private static bool TryReadBracketed(ref ReadOnlySpan<char> s, char open, char close, out int value)
    {
        value = 0;
        var end = s.IndexOf(close);
        if (s[0] != open || end < 0)
        {
            return false;
        }

        var inner = s[1..end];
        s = s[(end + 1)..];
        return TryReadNumber(ref inner, out value) && inner.IsEmpty;
    }

    private static bool TryReadNumber(ref ReadOnlySpan<char> s, out int value)
    {
        var length = 0;
        while (length < s.Length && char.IsAsciiDigit(s[length]))
        {
            length++;
        }

        value = 0;
        if (length == 0 || length > 6)
        {
            return false;
        }

        value = int.Parse(s[..length], NumberStyles.None, CultureInfo.InvariantCulture);
        s = s[length..];
        return value >= 1;
    }
}
