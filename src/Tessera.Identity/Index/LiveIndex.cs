using Tessera.Identity.Matching;

namespace Tessera.Identity.Index;

/// <summary>
/// The in-memory blocking index over every indexed source record, kept current as records are written: an
/// updated record is added afresh and its old entry ignored, and the whole index is rebuilt when stale
/// entries outnumber live ones. Not thread-safe: <see cref="MasterPatientIndex"/> serialises access.
/// </summary>
internal sealed class LiveIndex
{
    private readonly Dictionary<string, (PersonRecord Record, long Version)> current = new(StringComparer.Ordinal);
    private MatchIndex index;
    private int stale;

    public LiveIndex(MatchEngine engine)
    {
        Engine = engine;
        index = engine.CreateIndex();
    }

    public MatchEngine Engine { get; private set; }

    /// <summary>The highest mpi_source generation applied to this index.</summary>
    public long Generation { get; set; }

    public int Count => current.Count;

    public MatchIndex Frequencies => index;

    public void Upsert(PersonRecord record, long version)
    {
        if (current.TryGetValue(record.RecordId, out var existing))
        {
            if (existing.Version >= version)
            {
                return;
            }

            stale++;
        }

        current[record.RecordId] = (record, version);
        index.Add(record);
        CompactIfStale();
    }

    /// <summary>
    /// Loads the records of an empty index at once (the first load of a large index: records prepared in
    /// parallel); an index that already holds records takes them one by one.
    /// </summary>
    public void Load(IReadOnlyList<(PersonRecord Record, long Version)> records)
    {
        if (current.Count > 0 || records.Count < 4096)
        {
            foreach (var (record, version) in records)
            {
                Upsert(record, version);
            }

            return;
        }

        foreach (var (record, version) in records)
        {
            current[record.RecordId] = (record, version);
        }

        index = Engine.CreateIndex(current.Values.Select(v => v.Record).ToList());
    }

    public void Remove(string recordId)
    {
        if (current.Remove(recordId))
        {
            stale++;
            CompactIfStale();
        }
    }

    public void UseEngine(MatchEngine engine)
    {
        Engine = engine;
        Rebuild();
    }

    /// <summary>Live indexed records that may be the candidate's person, best first, excluding the candidate itself.</summary>
    public IReadOnlyList<MatchCandidate> Match(PersonRecord candidate, int maxResults)
    {
        var found = Engine.Match(candidate, index, maxResults + 8 + Math.Min(stale, 64));
        return found
            .Where(c => c.Record.RecordId != candidate.RecordId && current.TryGetValue(c.Record.RecordId, out var live) && ReferenceEquals(live.Record, c.Record))
            .Take(maxResults)
            .ToList();
    }

    private void CompactIfStale()
    {
        if (stale > 1024 && stale > current.Count)
        {
            Rebuild();
        }
    }

    private void Rebuild()
    {
        index = Engine.CreateIndex(current.Values.Select(v => v.Record));
        stale = 0;
    }
}
