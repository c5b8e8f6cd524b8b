using Tessera.Identity.NhsNumbers;

namespace Tessera.Demo.People;

/// <summary>
/// Hands out NHS numbers from the never-issued 999 range, unique per person index. The ~909,000 nine-digit
/// prefixes 999000000–999999999 that admit a valid modulus-11 check digit are put in a seed-dependent order by
/// an affine permutation, so person n's number needs no knowledge of other people.
/// </summary>
internal sealed class NhsNumberPool
{
    private static readonly Lazy<int[]> ValidPrefixes = new(() =>
    {
        var list = new List<int>(920_000);
        Span<char> digits = stackalloc char[9];
        for (var p = 999_000_000; p <= 999_999_999; p++)
        {
            p.TryFormat(digits, out _);
            if (NhsNumber.CheckDigit(digits) is not null)
            {
                list.Add(p);
            }
        }

        return list.ToArray();
    });

    private readonly long _multiplier;
    private readonly long _offset;

    public NhsNumberPool(int seed)
    {
        var n = Capacity;
        _offset = (long)((ulong)(uint)seed * 2654435761UL % (ulong)n);
        _multiplier = 611_953;
        while (Gcd(_multiplier, n) != 1)
        {
            _multiplier += 2;
        }
    }

    /// <summary>How many distinct valid numbers the 999 range holds, and so the most people a region may have.</summary>
    public static int Capacity => ValidPrefixes.Value.Length;

    public string For(int index)
    {
        var prefixes = ValidPrefixes.Value;
        var prefix = prefixes[(int)((index * _multiplier + _offset) % prefixes.Length)];
        Span<char> digits = stackalloc char[10];
        prefix.TryFormat(digits, out _);
        digits[9] = (char)('0' + NhsNumber.CheckDigit(digits[..9])!.Value);
        return new string(digits);
    }

    private static long Gcd(long a, long b) => b == 0 ? a : Gcd(b, a % b);
}
