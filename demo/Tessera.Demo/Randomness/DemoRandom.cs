namespace Tessera.Demo.Randomness;

/// <summary>
/// xoshiro256** seeded through SplitMix64. Our own generator rather than System.Random so that the
/// demo region stays byte-identical across .NET versions, and so that every person can own an
/// independent stream derived from (seed, person index) — which lets people be generated in any order
/// or in parallel without changing the output.
/// </summary>
internal sealed class DemoRandom
{
    private ulong _s0, _s1, _s2, _s3;

    public DemoRandom(ulong seed)
    {
        var sm = seed;
        _s0 = SplitMix(ref sm);
        _s1 = SplitMix(ref sm);
        _s2 = SplitMix(ref sm);
        _s3 = SplitMix(ref sm);
    }

    /// <summary>A stream for one purpose (organisations, person n, ...) of one seeded region.</summary>
    public static DemoRandom For(int seed, ulong purpose, ulong index)
    {
        var h = Mix((ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ 0xD1B54A32D192ED03UL);
        h = Mix(h ^ (purpose * 0xBF58476D1CE4E5B9UL));
        h = Mix(h ^ (index * 0x94D049BB133111EBUL + 0x2545F4914F6CDD1DUL));
        return new DemoRandom(h);
    }

    public ulong NextULong()
    {
        var result = RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [0, maxExclusive).</summary>
    public int Next(int maxExclusive)
    {
        if (maxExclusive <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxExclusive));
        }

        return (int)((NextULong() >> 33) % (ulong)maxExclusive);
    }

    /// <summary>Uniform in [minInclusive, maxInclusive].</summary>
    public int Between(int minInclusive, int maxInclusive) => minInclusive + Next(maxInclusive - minInclusive + 1);

    public bool Chance(double probability) => NextDouble() < probability;

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    public T Pick<T>(WeightedTable<T> table) => table.Sample(NextDouble());

    /// <summary>Normal variate (Box–Muller); only the first of the pair is used to keep streams simple.</summary>
    public double Normal(double mean, double sd)
    {
        var u1 = 1.0 - NextDouble();
        var u2 = NextDouble();
        return mean + sd * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Poisson variate by Knuth's method; the demo's rates are small, so this is cheap.</summary>
    public int Poisson(double lambda)
    {
        if (lambda <= 0)
        {
            return 0;
        }

        var l = Math.Exp(-lambda);
        var k = 0;
        var p = 1.0;
        do
        {
            k++;
            p *= NextDouble();
        }
        while (p > l && k < 200);

        return k - 1;
    }

    /// <summary>A version-4-shaped UUID from this stream, so ids are stable for a seed.</summary>
    public string Uuid()
    {
        Span<byte> bytes = stackalloc byte[16];
        BitConverter.TryWriteBytes(bytes, NextULong());
        BitConverter.TryWriteBytes(bytes[8..], NextULong());
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return Convert.ToHexStringLower(bytes[..4]) + "-" + Convert.ToHexStringLower(bytes[4..6]) + "-" +
               Convert.ToHexStringLower(bytes[6..8]) + "-" + Convert.ToHexStringLower(bytes[8..10]) + "-" +
               Convert.ToHexStringLower(bytes[10..]);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        return Mix(state);
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>A table of items with relative weights, sampled by a uniform draw.</summary>
internal sealed class WeightedTable<T>
{
    private readonly T[] _items;
    private readonly double[] _cumulative;

    public WeightedTable(IEnumerable<(T Item, double Weight)> entries)
    {
        var list = entries.Where(e => e.Weight > 0).ToList();
        if (list.Count == 0)
        {
            throw new ArgumentException("A weighted table needs at least one positive weight.", nameof(entries));
        }

        _items = list.Select(e => e.Item).ToArray();
        _cumulative = new double[list.Count];
        var total = list.Sum(e => e.Weight);
        var running = 0.0;
        for (var i = 0; i < list.Count; i++)
        {
            running += list[i].Weight / total;
            _cumulative[i] = running;
        }

        _cumulative[^1] = 1.0;
    }

    public IReadOnlyList<T> Items => _items;

    public T Sample(double uniform)
    {
        var index = Array.BinarySearch(_cumulative, uniform);
        if (index < 0)
        {
            index = ~index;
        }

        return _items[Math.Min(index, _items.Length - 1)];
    }
}
