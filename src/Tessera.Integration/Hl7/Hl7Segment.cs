using System.Text;

namespace Tessera.Integration.Hl7;

/// <summary>
/// One segment. It keeps the text it was parsed from and only splits it when a field is read,
/// so an untouched segment serializes to exactly the bytes that arrived.
/// </summary>
public sealed class Hl7Segment
{
    private readonly Hl7Delimiters _delimiters;
    private string _text;
    private List<string>? _parts;

    internal Hl7Segment(string text, string terminator, Hl7Delimiters delimiters, bool isFiller)
    {
        _text = text;
        Terminator = terminator;
        _delimiters = delimiters;
        IsFiller = isFiller;
        Id = isFiller ? string.Empty : ReadId(text, delimiters.Field);
    }

    /// <summary>The segment id as written (MSH, PID, ZPI, ...).</summary>
    public string Id { get; }

    /// <summary>Number of the last field present (MSH counts MSH-1, the field separator).</summary>
    public int FieldCount
    {
        get
        {
            var parts = Parts;
            return IsMsh ? parts.Count : parts.Count - 1;
        }
    }

    /// <summary>The line ending that followed this segment in the input ("\r", "\n", "\r\n" or none).</summary>
    internal string Terminator { get; set; }

    /// <summary>A blank line kept only so that serialization gives back the input.</summary>
    internal bool IsFiller { get; }

    internal bool IsMsh => Id == "MSH";

    private List<string> Parts => _parts ??= [.. _text.Split(_delimiters.Field)];

    /// <summary>The raw (still escaped) text at a position, or null when the message does not have it.</summary>
    public string? GetRaw(int field, int repetition = 1, int? component = null, int? subcomponent = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(field, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repetition, 1);
        if (IsMsh && field <= 2)
        {
            // MSH-1 and MSH-2 hold the delimiters themselves and are never split.
            var header = field == 1 ? _delimiters.Field.ToString() : PartAt(1);
            return repetition == 1 && (component ?? 1) == 1 && (subcomponent ?? 1) == 1 ? header : null;
        }

        var value = PartAt(PartIndex(field));
        if (value is null)
        {
            return null;
        }

        value = Piece(value, _delimiters.Repetition, repetition);
        if (value is null || component is null)
        {
            return value;
        }

        value = Piece(value, _delimiters.Component, component.Value);
        if (value is null || subcomponent is null)
        {
            return value;
        }

        return Piece(value, _delimiters.Subcomponent, subcomponent.Value);
    }

    /// <summary>
    /// The decoded value at a position. Like a terser, an omitted component or subcomponent means
    /// the first one, so <c>Get(9)</c> on MSH gives the message type code.
    /// </summary>
    public string? Get(int field, int repetition = 1, int component = 1, int subcomponent = 1)
    {
        var raw = GetRaw(field, repetition, component, subcomponent);
        if (raw is null || (IsMsh && field <= 2))
        {
            return raw;
        }

        return Hl7Escaping.Unescape(raw, _delimiters);
    }

    /// <summary>How many repetitions a field has; 0 when it is absent or empty.</summary>
    public int RepetitionCount(int field)
    {
        var raw = GetRaw(field);
        if (raw is null)
        {
            return 0;
        }

        var all = IsMsh && field <= 2 ? raw : PartAt(PartIndex(field))!;
        if (all.Length == 0)
        {
            return 0;
        }

        return _delimiters.Repetition is { } rep ? all.Count(c => c == rep) + 1 : 1;
    }

    /// <summary>Writes a plain value (escaped here) at a position, adding empty fields or components as needed.</summary>
    public void Set(int field, string value, int repetition = 1, int? component = null, int? subcomponent = null)
    {
        ArgumentNullException.ThrowIfNull(value);
        SetRaw(field, Hl7Escaping.Escape(value, _delimiters), repetition, component, subcomponent);
    }

    /// <summary>Writes already-encoded ER7 text at a position.</summary>
    public void SetRaw(int field, string raw, int repetition = 1, int? component = null, int? subcomponent = null)
    {
        ArgumentNullException.ThrowIfNull(raw);
        ArgumentOutOfRangeException.ThrowIfLessThan(field, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repetition, 1);
        if (IsFiller)
        {
            throw new InvalidOperationException("A blank line has no fields.");
        }

        if (IsMsh && field <= 2)
        {
            throw new ArgumentOutOfRangeException(nameof(field), "MSH-1 and MSH-2 declare the delimiters and cannot be set.");
        }

        if (raw.Contains('\r') || raw.Contains('\n'))
        {
            throw new ArgumentException("A field cannot contain a segment terminator; escape it.", nameof(raw));
        }

        var parts = Parts;
        var index = PartIndex(field);
        while (parts.Count <= index)
        {
            parts.Add(string.Empty);
        }

        var current = parts[index];
        parts[index] = Replace(current, _delimiters.Repetition, repetition, existingRep =>
            component is null
                ? raw
                : Replace(existingRep, _delimiters.Component, component.Value, existingComp =>
                    subcomponent is null
                        ? raw
                        : Replace(existingComp, _delimiters.Subcomponent, subcomponent.Value, _ => raw)));

        _text = string.Join(_delimiters.Field, parts);
    }

    public override string ToString() => _text;

    internal void AppendTo(StringBuilder sb) => sb.Append(_text).Append(Terminator);

    internal string? PartAt(int index)
    {
        var parts = Parts;
        return index < parts.Count ? parts[index] : null;
    }

    private int PartIndex(int field) => IsMsh ? field - 1 : field;

    private static string ReadId(string text, char fieldSeparator)
    {
        var end = text.IndexOf(fieldSeparator);
        return Hl7Parser.WithoutIndent(end < 0 ? text : text[..end]);
    }

    private static string? Piece(string value, char? separator, int position)
    {
        if (separator is not { } sep)
        {
            return position == 1 ? value : null;
        }

        var start = 0;
        for (var i = 1; i < position; i++)
        {
            var next = value.IndexOf(sep, start);
            if (next < 0)
            {
                return null;
            }

            start = next + 1;
        }

        var end = value.IndexOf(sep, start);
        return end < 0 ? value[start..] : value[start..end];
    }

    private static string Replace(string value, char? separator, int position, Func<string, string> replace)
    {
        if (separator is not { } sep)
        {
            if (position != 1)
            {
                throw new InvalidOperationException("The message declares no delimiter for this level (MSH-2), so only the first position exists.");
            }

            return replace(value);
        }

        var pieces = value.Split(sep).ToList();
        while (pieces.Count < position)
        {
            pieces.Add(string.Empty);
        }

        pieces[position - 1] = replace(pieces[position - 1]);
        return string.Join(sep, pieces);
    }
}
