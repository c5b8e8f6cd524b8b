using System.Text;

namespace Tessera.Governance.Policy;

/// <summary>
/// Folds the constants of a row predicate (<c>1 = 1</c>, <c>1 = 0</c>: the answers of a settled filter and the
/// pieces decided for a known type) out of its text, so that what they decide is gone from the statement PostgreSQL
/// parses and plans. PostgreSQL folds them too, but only after parsing and analysing every sub-query the text holds;
/// a settled GP search carried four dead sub-queries, about 100 µs of its CPU on every execution.
/// <para>
/// The predicate is read as a boolean expression of <c>AND</c>, <c>OR</c> and <c>NOT</c> over operands, where an
/// operand is any text between those keywords at the top level of the parentheses (a comparison, an
/// <c>EXISTS (...)</c>); a parenthesised operand that is not a sub-query is read as an expression in turn. Operands
/// are kept as written. Text this reading does not cover (a <c>BETWEEN</c>, an unbalanced quote or parenthesis) is
/// returned unchanged.
/// </para>
/// </summary>
internal static class SqlLogic
{
    public const string True = "1 = 1";
    public const string False = "1 = 0";

    public static string Simplify(string predicate)
    {
        try
        {
            return Render(Parse(predicate), top: true);
        }
        catch (FormatException)
        {
            return predicate;
        }
    }

    private abstract record Node;

    private sealed record Constant(bool Value) : Node;

    private sealed record Operand(string Text) : Node;

    private sealed record Not(Node Inner) : Node;

    private sealed record Junction(bool IsAnd, IReadOnlyList<Node> Parts) : Node;

    /// <summary>The expression of <paramref name="text"/>, its constants folded.</summary>
    private static Node Parse(string text)
    {
        var tokens = Tokenise(text);
        var at = 0;
        var node = ParseOr(tokens, ref at);
        if (at != tokens.Count)
        {
            throw new FormatException("Text after the expression.");
        }

        return node;
    }

    /// <summary>A token at the top level: a word or symbol run, a quoted literal, or a whole parenthesised group.</summary>
    private readonly record struct Token(string Text, bool Group)
    {
        public bool Is(string keyword) => !Group && Text.Equals(keyword, StringComparison.OrdinalIgnoreCase);
    }

    private static List<Token> Tokenise(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '(')
            {
                var start = i;
                var depth = 0;
                do
                {
                    if (text[i] == '\'')
                    {
                        i = EndOfQuote(text, i) - 1;
                    }
                    else if (text[i] == '(')
                    {
                        depth++;
                    }
                    else if (text[i] == ')')
                    {
                        depth--;
                    }

                    i++;
                }
                while (depth > 0 && i < text.Length);

                if (depth != 0)
                {
                    throw new FormatException("Unbalanced parentheses.");
                }

                tokens.Add(new Token(text[start..i], Group: true));
            }
            else if (c == ')')
            {
                throw new FormatException("Unbalanced parentheses.");
            }
            else if (c == '\'')
            {
                var end = EndOfQuote(text, i);
                tokens.Add(new Token(text[i..end], Group: false));
                i = end;
            }
            else
            {
                var start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not '(' and not ')' and not '\'')
                {
                    i++;
                }

                tokens.Add(new Token(text[start..i], Group: false));
            }
        }

        return tokens;
    }

    /// <summary>The index just past the literal opening at <paramref name="start"/> ('' is a quote inside it).</summary>
    private static int EndOfQuote(string text, int start)
    {
        var i = start + 1;
        while (i < text.Length)
        {
            if (text[i] == '\'')
            {
                if (i + 1 < text.Length && text[i + 1] == '\'')
                {
                    i += 2;
                    continue;
                }

                return i + 1;
            }

            i++;
        }

        throw new FormatException("Unterminated literal.");
    }

    private static Node ParseOr(List<Token> tokens, ref int at) => ParseJunction(tokens, ref at, isAnd: false);

    /// <summary>An OR of ANDs, or an AND of operands (AND binds tighter).</summary>
    private static Node ParseJunction(List<Token> tokens, ref int at, bool isAnd)
    {
        var keyword = isAnd ? "AND" : "OR";
        var parts = new List<Node>();
        while (true)
        {
            parts.Add(isAnd ? ParseNot(tokens, ref at) : ParseJunction(tokens, ref at, isAnd: true));
            if (at == tokens.Count || !tokens[at].Is(keyword))
            {
                return Join(isAnd, parts);
            }

            at++;
        }
    }

    private static Node ParseNot(List<Token> tokens, ref int at)
    {
        if (at < tokens.Count && tokens[at].Is("NOT"))
        {
            at++;
            return ParseNot(tokens, ref at) switch
            {
                Constant c => new Constant(!c.Value),
                Not n => n.Inner,
                var inner => new Not(inner),
            };
        }

        var start = at;
        while (at < tokens.Count && !tokens[at].Is("AND") && !tokens[at].Is("OR"))
        {
            if (tokens[at].Is("BETWEEN"))
            {
                throw new FormatException("BETWEEN's AND is not a junction.");
            }

            at++;
        }

        if (at == start)
        {
            throw new FormatException("An operator without an operand.");
        }

        if (at == start + 1 && tokens[start].Group && !IsSubquery(tokens[start].Text))
        {
            return Parse(tokens[start].Text[1..^1]);
        }

        var text = string.Join(' ', tokens.Skip(start).Take(at - start).Select(t => t.Text));
        return text switch
        {
            True => new Constant(true),
            False => new Constant(false),
            _ => new Operand(text),
        };
    }

    private static bool IsSubquery(string group)
    {
        var inner = group[1..^1].TrimStart();
        return inner.StartsWith("SELECT", StringComparison.OrdinalIgnoreCase) || inner.StartsWith("WITH", StringComparison.OrdinalIgnoreCase) || inner.StartsWith("VALUES", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// A junction of <paramref name="parts"/>: a constant that decides it (false in an AND, true in an OR) decides the
    /// whole, the other constant drops out, and a part that is the same junction is flattened into it.
    /// </summary>
    private static Node Join(bool isAnd, List<Node> parts)
    {
        var kept = new List<Node>();
        foreach (var part in parts)
        {
            switch (part)
            {
                case Constant c when c.Value != isAnd:
                    return c;
                case Constant:
                    break;
                case Junction j when j.IsAnd == isAnd:
                    kept.AddRange(j.Parts);
                    break;
                default:
                    kept.Add(part);
                    break;
            }
        }

        return kept.Count switch
        {
            0 => new Constant(isAnd),
            1 => kept[0],
            _ => new Junction(isAnd, kept),
        };
    }

    private static string Render(Node node, bool top = false)
    {
        switch (node)
        {
            case Constant c:
                return c.Value ? True : False;
            case Operand o:
                return o.Text;
            case Not n:
                return n.Inner is Operand inner && inner.Text.StartsWith("EXISTS ", StringComparison.OrdinalIgnoreCase) ? "NOT " + inner.Text : "NOT (" + Render(n.Inner, top: true) + ")";
            case Junction j:
                var text = new StringBuilder();
                foreach (var part in j.Parts)
                {
                    if (text.Length > 0)
                    {
                        text.Append(j.IsAnd ? " AND " : " OR ");
                    }

                    text.Append(part is Junction ? "(" + Render(part, top: true) + ")" : Render(part));
                }

                return top ? text.ToString() : "(" + text + ")";
            default:
                throw new InvalidOperationException("Unknown node.");
        }
    }
}
