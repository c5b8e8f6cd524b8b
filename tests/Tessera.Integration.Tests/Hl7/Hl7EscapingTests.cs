using Tessera.Integration.Hl7;

namespace Tessera.Integration.Tests.Hl7;

public sealed class Hl7EscapingTests
{
    private static readonly Hl7Delimiters D = Hl7Delimiters.Default;

    [Theory]
    [InlineData("a\\F\\b", "a|b")]
    [InlineData("a\\S\\b", "a^b")]
    [InlineData("a\\T\\b", "a&b")]
    [InlineData("a\\R\\b", "a~b")]
    [InlineData("a\\E\\b", "a\\b")]
    [InlineData("\\X0D0A\\", "\r\n")]
    [InlineData("caf\\XC3A9\\", "café")]
    [InlineData("\\XE9\\", "é")]
    [InlineData("one\\.br\\two", "one\ntwo")]
    [InlineData("\\H\\bold\\N\\", "bold")]
    [InlineData("a\\.sp2\\b", "a\n\nb")]
    [InlineData("\\.in+4\\x", "x")]
    [InlineData("no closing \\F", "no closing \\F")]
    [InlineData("site \\Zabc\\ code", "site \\Zabc\\ code")]
    [InlineData("\\Xzz\\", "\\Xzz\\")]
    [InlineData("plain", "plain")]
    public void Unescape_decodes_standard_sequences(string raw, string expected)
    {
        Assert.Equal(expected, Hl7Escaping.Unescape(raw, D));
    }

    [Fact]
    public void Escape_writes_every_delimiter_and_line_breaks()
    {
        Assert.Equal("\\F\\\\S\\\\R\\\\E\\\\T\\\\X0D\\\\X0A\\", Hl7Escaping.Escape("|^~\\&\r\n", D));
        Assert.Equal("untouched", Hl7Escaping.Escape("untouched", D));
    }

    [Fact]
    public void Other_escape_characters_are_honoured()
    {
        var d = new Hl7Delimiters('|', '^', '~', '!', '&');

        Assert.Equal("a^b|c", Hl7Escaping.Unescape("a!S!b!F!c", d));
        Assert.Equal("a!S!b!E!", Hl7Escaping.Escape("a^b!", d));
    }

    [Fact]
    public void Without_an_escape_character_text_is_literal()
    {
        var d = new Hl7Delimiters('|', '^', '~', null, null);

        Assert.Equal("a\\F\\b", Hl7Escaping.Unescape("a\\F\\b", d));
        Assert.Throws<ArgumentException>(() => Hl7Escaping.Escape("a^b", d));
    }
}
