namespace Tessera.Identity.Matching;

/// <summary>Edit-distance and Jaro–Winkler similarity, written allocation-free for short strings because they run per candidate pair.</summary>
internal static class StringSimilarity
{
    private const int StackLimit = 128;

    /// <summary>
    /// Jaro–Winkler similarity in [0, 1]: the Jaro score boosted by a common prefix of up to four characters
    /// (scaling 0.1), applied only above 0.7 as Winkler proposed so unrelated strings are not lifted.
    /// </summary>
    public static double JaroWinkler(ReadOnlySpan<char> a, ReadOnlySpan<char> b)
    {
        var jaro = Jaro(a, b);
        if (jaro < 0.7)
        {
            return jaro;
        }

        var prefix = 0;
        var max = Math.Min(4, Math.Min(a.Length, b.Length));
        while (prefix < max && a[prefix] == b[prefix])
        {
            prefix++;
        }

        return jaro + (prefix * 0.1 * (1 - jaro));
    }

    /// <summary>
    /// Symmetric Monge–Elkan similarity of two token lists: each token's best Jaro–Winkler partner in the other
    /// list, averaged both ways. Robust to words added, dropped or reordered, as happens in written addresses.
    /// </summary>
    public static double MongeElkan(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        if (a.Count == 0 || b.Count == 0)
        {
            return 0;
        }

        return (Directed(a, b) + Directed(b, a)) / 2;

        static double Directed(IReadOnlyList<string> from, IReadOnlyList<string> to)
        {
            var sum = 0.0;
            foreach (var x in from)
            {
                var best = 0.0;
                foreach (var y in to)
                {
                    best = Math.Max(best, JaroWinkler(x, y));
                    if (best == 1)
                    {
                        break;
                    }
                }

                sum += best;
            }

            return sum / from.Count;
        }
    }

    public static double Jaro(ReadOnlySpan<char> a, ReadOnlySpan<char> b)
    {
        if (a.Length == 0 && b.Length == 0)
        {
            return 1;
        }

        if (a.Length == 0 || b.Length == 0)
        {
            return 0;
        }

        if (a.SequenceEqual(b))
        {
            return 1;
        }

        var window = Math.Max(0, (Math.Max(a.Length, b.Length) / 2) - 1);
        Span<bool> aMatched = a.Length <= StackLimit ? stackalloc bool[a.Length] : new bool[a.Length];
        Span<bool> bMatched = b.Length <= StackLimit ? stackalloc bool[b.Length] : new bool[b.Length];

        var matches = 0;
        for (var i = 0; i < a.Length; i++)
        {
            var start = Math.Max(0, i - window);
            var end = Math.Min(b.Length - 1, i + window);
            for (var j = start; j <= end; j++)
            {
                if (!bMatched[j] && a[i] == b[j])
                {
                    aMatched[i] = true;
                    bMatched[j] = true;
                    matches++;
                    break;
                }
            }
        }

        if (matches == 0)
        {
            return 0;
        }

        var transpositions = 0;
        var k = 0;
        for (var i = 0; i < a.Length; i++)
        {
            if (!aMatched[i])
            {
                continue;
            }

            while (!bMatched[k])
            {
                k++;
            }

            if (a[i] != b[k])
            {
                transpositions++;
            }

            k++;
        }

        double m = matches;
        return ((m / a.Length) + (m / b.Length) + ((m - (transpositions / 2.0)) / m)) / 3.0;
    }

    /// <summary>Levenshtein distance: insertions, deletions and substitutions.</summary>
    public static int Levenshtein(ReadOnlySpan<char> a, ReadOnlySpan<char> b) => Distance(a, b, allowTransposition: false);

    /// <summary>
    /// Damerau–Levenshtein distance in its optimal-string-alignment form: Levenshtein plus transposition of two
    /// adjacent characters, the commonest keying error in dates and identifiers.
    /// </summary>
    public static int DamerauLevenshtein(ReadOnlySpan<char> a, ReadOnlySpan<char> b) => Distance(a, b, allowTransposition: true);

    private static int Distance(ReadOnlySpan<char> a, ReadOnlySpan<char> b, bool allowTransposition)
    {
        if (a.Length == 0)
        {
            return b.Length;
        }

        if (b.Length == 0)
        {
            return a.Length;
        }

        var width = b.Length + 1;
        Span<int> previous2 = width <= StackLimit ? stackalloc int[width] : new int[width];
        Span<int> previous = width <= StackLimit ? stackalloc int[width] : new int[width];
        Span<int> current = width <= StackLimit ? stackalloc int[width] : new int[width];

        for (var j = 0; j < width; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                var value = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                if (allowTransposition && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    value = Math.Min(value, previous2[j - 2] + 1);
                }

                current[j] = value;
            }

            var recycled = previous2;
            previous2 = previous;
            previous = current;
            current = recycled;
        }

        return previous[b.Length];
    }
}
