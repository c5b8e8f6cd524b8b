using System.Collections.Concurrent;
using System.Text;

namespace Tessera.RecordStore.Storage;

/// <summary>
/// A statement's named parameters (<c>@name</c>) rewritten as PostgreSQL's positional ones (<c>$1</c>), worked out
/// once per statement text. Npgsql sends a command whose parameters have no names as it is; with names it scans the
/// whole text on every execution to rewrite them, which for the long statements an access filter makes (several
/// kilobytes, dozens of parameters) cost more than binding the values.
/// </summary>
internal sealed class PositionalSql
{
    /// <summary>How many statement texts are remembered; beyond it the cache starts again (texts vary with list lengths).</summary>
    private const int MaxTexts = 4096;

    private static readonly ConcurrentDictionary<string, PositionalSql?> Cache = new(StringComparer.Ordinal);

    private readonly Dictionary<string, int> _positions = new(StringComparer.Ordinal);

    private PositionalSql(string text, string[] names)
    {
        (Text, Names) = (text, names);
        for (var i = 0; i < names.Length; i++)
        {
            _positions[names[i]] = i;
            _positions["@" + names[i]] = i;
        }
    }

    /// <summary>The statement with <c>$n</c> in place of each parameter.</summary>
    public string Text { get; }

    /// <summary>The parameter names (without '@') in position order: <c>$1</c> is <c>Names[0]</c>.</summary>
    public string[] Names { get; }

    /// <summary>The position (from 0) of a parameter given as "name" or "@name"; -1 when the statement does not use it.</summary>
    public int PositionOf(string name) => _positions.TryGetValue(name, out var i) ? i : -1;

    /// <summary>
    /// The positional form of <paramref name="sql"/>, or null when it cannot be sent as one statement of its own
    /// (several statements, positional parameters already, an unterminated quote) or names no parameter.
    /// </summary>
    public static PositionalSql? Of(string sql)
    {
        if (Cache.TryGetValue(sql, out var known))
        {
            return known;
        }

        var made = Rewrite(sql);
        if (Cache.Count >= MaxTexts)
        {
            Cache.Clear();
        }

        Cache[sql] = made;
        return made;
    }

    /// <summary>Rewrites outside string literals, quoted identifiers and comments; null when the text is not a single statement it can rewrite.</summary>
    internal static PositionalSql? Rewrite(string sql)
    {
        var names = new List<string>();
        var text = new StringBuilder(sql.Length);
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            switch (c)
            {
                case '\'' or '"':
                    {
                        var end = ClosingQuote(sql, i);
                        if (end < 0)
                        {
                            return null;
                        }

                        text.Append(sql, i, end - i + 1);
                        i = end + 1;
                        continue;
                    }

                case '-' when i + 1 < sql.Length && sql[i + 1] == '-':
                    {
                        var end = sql.IndexOf('\n', i);
                        end = end < 0 ? sql.Length : end;
                        text.Append(sql, i, end - i);
                        i = end;
                        continue;
                    }

                case '/' when i + 1 < sql.Length && sql[i + 1] == '*':
                    {
                        var end = sql.IndexOf("*/", i + 2, StringComparison.Ordinal);
                        if (end < 0)
                        {
                            return null;
                        }

                        text.Append(sql, i, end + 2 - i);
                        i = end + 2;
                        continue;
                    }

                case ';' or '$' or ':' when c != ':' || (i + 1 < sql.Length && sql[i + 1] != ':' && (i == 0 || sql[i - 1] != ':') && IsNameStart(sql, i + 1)):
                    // Several statements, dollar quoting or positional parameters, or Npgsql's ':name' form: left as they are.
                    return null;
                case '@' when IsNameStart(sql, i + 1) && (i == 0 || !IsNameChar(sql[i - 1])):
                    {
                        var end = i + 1;
                        while (end < sql.Length && IsNameChar(sql[end]))
                        {
                            end++;
                        }

                        var name = sql[(i + 1)..end];
                        var position = names.IndexOf(name);
                        if (position < 0)
                        {
                            names.Add(name);
                            position = names.Count - 1;
                        }

                        text.Append('$').Append(position + 1);
                        i = end;
                        continue;
                    }
            }

            text.Append(c);
            i++;
        }

        return names.Count == 0 ? null : new PositionalSql(text.ToString(), [.. names]);
    }

    /// <summary>The index of the quote that closes the one at <paramref name="start"/> (a doubled quote is part of the text), or -1.</summary>
    private static int ClosingQuote(string sql, int start)
    {
        var quote = sql[start];
        var i = start + 1;
        while (i < sql.Length)
        {
            var end = sql.IndexOf(quote, i);
            if (end < 0)
            {
                return -1;
            }

            if (end + 1 < sql.Length && sql[end + 1] == quote)
            {
                i = end + 2;
                continue;
            }

            return end;
        }

        return -1;
    }

    private static bool IsNameStart(string sql, int i) => i < sql.Length && (char.IsAsciiLetter(sql[i]) || sql[i] == '_');

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
}
