namespace Tessera.Integration.Hl7;

/// <summary>
/// The delimiters a message declares in MSH-1 and MSH-2. A delimiter a sender left out of
/// MSH-2 is <c>null</c>: that level of structure does not exist in the message, so the text is
/// never split on it.
/// </summary>
public sealed record Hl7Delimiters(
    char Field,
    char Component,
    char? Repetition,
    char? Escape,
    char? Subcomponent,
    char? Truncation = null)
{
    /// <summary>The recommended delimiters <c>|^~\&amp;</c>.</summary>
    public static Hl7Delimiters Default { get; } = new('|', '^', '~', '\\', '&');

    /// <summary>MSH-2 as it is written for these delimiters.</summary>
    public string EncodingCharacters
    {
        get
        {
            Span<char> chars = stackalloc char[5];
            var length = 0;
            chars[length++] = Component;
            // MSH-2 is positional, so a later delimiter forces the earlier ones to be written.
            char?[] rest = [Repetition, Escape, Subcomponent, Truncation];
            var last = -1;
            for (var i = 0; i < rest.Length; i++)
            {
                if (rest[i] is not null)
                {
                    last = i;
                }
            }

            for (var i = 0; i <= last; i++)
            {
                chars[length++] = rest[i] ?? ' ';
            }

            return new string(chars[..length]);
        }
    }

    internal bool IsDelimiter(char c) =>
        c == Field || c == Component || c == Repetition || c == Escape || c == Subcomponent || c == Truncation;
}
