using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Xunit;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Tests.Hl7;

public sealed class Hl7PropertyTests
{
    private static readonly string[] Endings = ["\r", "\n", "\r\n"];

    [Property]
    public bool Unescape_inverts_escape(NonNull<string> value) =>
        Hl7Escaping.Unescape(Hl7Escaping.Escape(value.Get, Hl7Delimiters.Default), Hl7Delimiters.Default) == value.Get;

    [Property]
    public bool Escaped_text_contains_no_bare_delimiter_or_line_break(NonNull<string> value)
    {
        var escaped = Hl7Escaping.Escape(value.Get, Hl7Delimiters.Default);
        return escaped.IndexOfAny(['|', '^', '~', '&', '\r', '\n']) < 0;
    }

    [Property]
    public bool Generated_messages_round_trip_and_read_back_their_values(NonNull<string>[] values, byte endingSeed)
    {
        var ending = Endings[endingSeed % Endings.Length];
        var sb = new StringBuilder("MSH|^~\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5").Append(ending);
        const int perSegment = 4;
        for (var i = 0; i < values.Length; i += perSegment)
        {
            var fields = values.Skip(i).Take(perSegment).Select(v => Hl7Escaping.Escape(v.Get, Hl7Delimiters.Default));
            sb.Append(SegmentId(i / perSegment)).Append('|').Append(string.Join('|', fields)).Append(ending);
        }

        var text = sb.ToString();
        var message = Hl7Message.Parse(text);
        if (message.ToString() != text)
        {
            return false;
        }

        for (var i = 0; i < values.Length; i++)
        {
            var path = $"{SegmentId(i / perSegment)}-{(i % perSegment) + 1}";
            if (message.Get(path) != values[i].Get)
            {
                return false;
            }
        }

        return true;
    }

    [Property]
    public bool Setting_then_getting_returns_the_value(NonNull<string> value, PositiveInt field, PositiveInt repetition, PositiveInt component)
    {
        var message = Hl7Message.Parse(Samples.AdtA01);
        var path = $"PID-{(field.Get % 40) + 1}({(repetition.Get % 4) + 1}).{(component.Get % 6) + 1}";

        message.Set(path, value.Get);

        return message.Get(path) == value.Get && Hl7Message.Parse(message.ToString()).Get(path) == value.Get;
    }

    [Property]
    public bool Arbitrary_text_after_msh_parses_or_fails_with_a_parse_error_and_round_trips(NonNull<string> tail, bool strict)
    {
        var text = "MSH" + tail.Get;
        try
        {
            var message = Hl7Message.Parse(text, strict ? Hl7ParseOptions.Default : Hl7ParseOptions.Lenient);
            return message.ToString() == text;
        }
        catch (Hl7ParseException)
        {
            return true;
        }
    }

    [Property]
    public bool Arbitrary_bytes_keep_every_byte(byte[] tail)
    {
        var bytes = "MSH|^~\\&|"u8.ToArray().Concat(tail ?? []).ToArray();
        try
        {
            return Hl7Message.Parse(bytes, Hl7ParseOptions.Lenient).ToBytes().AsSpan().SequenceEqual(bytes);
        }
        catch (Hl7ParseException)
        {
            // Only possible when the tail changes the header; the prefix here keeps it valid.
            return false;
        }
    }

    private static string SegmentId(int index) => "Z" + (index % 100).ToString("00", CultureInfo.InvariantCulture);
}
