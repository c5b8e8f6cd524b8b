namespace Tessera.Identity.Matching;

/// <summary>
/// An in-memory index of person records keyed by blocking keys, for <c>$match</c>-style queries and for
/// deduplication. It also counts how often each name occurs, which the term-frequency adjustment needs.
/// Adding records is not thread-safe; concurrent queries without adds are.
/// </summary>
public sealed class MatchIndex
{
    private readonly List<PreparedRecord> records = [];
    private readonly Dictionary<ulong, List<int>> blocks = [];
    private readonly Dictionary<string, int> givenCounts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> familyCounts = new(StringComparer.Ordinal);

    internal MatchIndex(int maxBlockSize) => MaxBlockSize = maxBlockSize;

    public int Count => records.Count;

    public int MaxBlockSize { get; }

    /// <summary>Blocks larger than their cap (<see cref="MaxBlockSize"/>, less for broad keys), which are not searched.</summary>
    public int OversizedBlocks => blocks.Count(b => b.Value.Count > Blocking.MaxBlockSize(b.Key, MaxBlockSize));

    public int BlockCount => blocks.Count;

    internal IReadOnlyList<PreparedRecord> Records => records;

    internal IReadOnlyDictionary<ulong, List<int>> Blocks => blocks;

    internal List<ulong[]> KeysByRecord { get; } = [];

    public void Add(PersonRecord record) => Add(new PreparedRecord(record, records.Count));

    public void AddRange(IEnumerable<PersonRecord> source)
    {
        if (source is not IReadOnlyList<PersonRecord> list || list.Count < 4096)
        {
            foreach (var record in source)
            {
                Add(record);
            }

            return;
        }

        // Preparing a record (normalising, phonetic codes) is most of the cost and independent per record: done in
        // parallel, then added in order, so positions, and everything computed from them, are as if added one by one.
        // Its blocking keys too; only filing them in the blocks is serial.
        var start = records.Count;
        var prepared = new PreparedRecord[list.Count];
        var keys = new ulong[list.Count][];
        Parallel.For(
            0,
            list.Count,
            () => new List<ulong>(16),
            (i, _, buffer) =>
            {
                prepared[i] = new PreparedRecord(list[i], start + i);
                keys[i] = KeysOf(prepared[i], buffer);
                return buffer;
            },
            _ => { });
        records.Capacity = Math.Max(records.Capacity, start + list.Count);
        KeysByRecord.Capacity = Math.Max(KeysByRecord.Capacity, start + list.Count);
        for (var i = 0; i < prepared.Length; i++)
        {
            Add(prepared[i], keys[i]);
        }
    }

    internal void Add(PreparedRecord prepared) => Add(prepared, KeysOf(prepared, new List<ulong>(16)));

    /// <summary>The record's distinct blocking keys.</summary>
    private static ulong[] KeysOf(PreparedRecord prepared, List<ulong> buffer)
    {
        Blocking.Keys(prepared, buffer);
        buffer.Sort();
        var write = 0;
        for (var read = 0; read < buffer.Count; read++)
        {
            if (write == 0 || buffer[read] != buffer[write - 1])
            {
                buffer[write++] = buffer[read];
            }
        }

        return buffer.GetRange(0, write).ToArray();
    }

    private void Add(PreparedRecord prepared, ulong[] distinct)
    {
        var position = records.Count;
        records.Add(prepared);
        KeysByRecord.Add(distinct);
        foreach (var key in distinct)
        {
            if (!blocks.TryGetValue(key, out var block))
            {
                block = new List<int>(2);
                blocks[key] = block;
            }

            block.Add(position);
        }

        if (prepared.GivenFirst is not null)
        {
            givenCounts[prepared.GivenFirst] = givenCounts.GetValueOrDefault(prepared.GivenFirst) + 1;
        }

        if (prepared.Family is not null)
        {
            familyCounts[prepared.Family] = familyCounts.GetValueOrDefault(prepared.Family) + 1;
        }
    }

    /// <summary>
    /// How many records' worth of the model's average chance agreement a name frequency starts from. A small index
    /// (a new region, a test) says little about how common a name is: with two records every name looks common.
    /// The estimate moves from the model's average to the index's own count as records accumulate.
    /// </summary>
    internal const double PriorRecords = 1000;

    /// <summary>Estimated share of records with this first given name, shrunk towards <paramref name="averageU"/> while the index is small.</summary>
    internal double GivenFrequency(string value, double averageU) => Shrunk(givenCounts.GetValueOrDefault(value), averageU);

    internal double FamilyFrequency(string value, double averageU) => Shrunk(familyCounts.GetValueOrDefault(value), averageU);

    private double Shrunk(int count, double averageU) => (Math.Max(1, count) + PriorRecords * averageU) / (records.Count + PriorRecords);

    /// <summary>Positions of indexed records sharing a blocking key with the candidate, each once.</summary>
    internal List<int> Candidates(PreparedRecord candidate, out int skippedBlocks)
    {
        skippedBlocks = 0;
        var keys = new List<ulong>(8);
        Blocking.Keys(candidate, keys);
        var found = new List<int>();
        foreach (var key in keys)
        {
            if (!blocks.TryGetValue(key, out var block))
            {
                continue;
            }

            if (block.Count > Blocking.MaxBlockSize(key, MaxBlockSize))
            {
                skippedBlocks++;
                continue;
            }

            found.AddRange(block);
        }

        found.Sort();
        var write = 0;
        for (var read = 0; read < found.Count; read++)
        {
            if (write == 0 || found[read] != found[write - 1])
            {
                found[write++] = found[read];
            }
        }

        found.RemoveRange(write, found.Count - write);
        return found;
    }

    /// <summary>
    /// Calls <paramref name="body"/> once for every distinct candidate pair (i &lt; j) across all blocks,
    /// in parallel. Each record collects its partners from its own blocks and de-duplicates them locally,
    /// so no global pair set is needed.
    /// </summary>
    internal void ForEachCandidatePair<TState>(ParallelOptions parallel, Func<TState> init, Action<int, int, TState> body, Action<TState> finish)
    {
        var n = records.Count;
        var chunk = Math.Max(256, n / (Environment.ProcessorCount * 16));
        var ranges = System.Collections.Concurrent.Partitioner.Create(0, n, chunk);
        Parallel.ForEach(
            ranges,
            parallel,
            () => (State: init(), Partners: new List<int>(64)),
            (range, _, local) =>
            {
                var partners = local.Partners;
                for (var i = range.Item1; i < range.Item2; i++)
                {
                    partners.Clear();
                    foreach (var key in KeysByRecord[i])
                    {
                        var block = blocks[key];
                        if (block.Count < 2 || block.Count > Blocking.MaxBlockSize(key, MaxBlockSize))
                        {
                            continue;
                        }

                        foreach (var j in block)
                        {
                            if (j > i)
                            {
                                partners.Add(j);
                            }
                        }
                    }

                    if (partners.Count == 0)
                    {
                        continue;
                    }

                    partners.Sort();
                    var previous = -1;
                    foreach (var j in partners)
                    {
                        if (j != previous)
                        {
                            body(i, j, local.State);
                            previous = j;
                        }
                    }
                }

                return local;
            },
            local => finish(local.State));
    }
}
