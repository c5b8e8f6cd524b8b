namespace Tessera.Integration.Hl7;

/// <summary>How much a parse insists on beyond the ER7 structure itself.</summary>
public sealed record Hl7ParseOptions
{
    /// <summary>
    /// Strict (the default) also requires printable, non-alphanumeric delimiters, a message type
    /// (MSH-9), a control id (MSH-10), a supported version 2.1–2.8 (MSH-12), well-formed segment ids
    /// and a single MSH. This is what a receiver should apply before acknowledging.
    /// </summary>
    public bool Strict { get; init; } = true;

    public static Hl7ParseOptions Default { get; } = new();

    /// <summary>Only the structure: a leading MSH and delimiters that can be told apart.</summary>
    public static Hl7ParseOptions Lenient { get; } = new() { Strict = false };
}
