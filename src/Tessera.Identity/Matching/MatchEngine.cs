namespace Tessera.Identity.Matching;

/// <summary>
/// The matching engine of the master patient index: trains a model from records, answers single
/// <c>$match</c>-style queries against an index, and deduplicates a whole set of records into clusters.
/// </summary>
public sealed class MatchEngine
{
    private readonly PairScorer scorer;
    private readonly MatchOptions options;

    public MatchEngine(MatchModel model, MatchOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        this.options = options ?? new MatchOptions();
        scorer = new PairScorer(model);
    }

    public MatchModel Model { get; }

    /// <summary>Trains a model on the records themselves; no labelled pairs are needed.</summary>
    public static MatchModel Train(IReadOnlyList<PersonRecord> records, MatchOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        return ModelTrainer.Train(records, options ?? new MatchOptions());
    }

    /// <summary>An empty index for this engine's blocking settings; fill it with <see cref="MatchIndex.AddRange"/>.</summary>
    public MatchIndex CreateIndex(IEnumerable<PersonRecord>? records = null)
    {
        var index = new MatchIndex(options.MaxBlockSize);
        if (records is not null)
        {
            index.AddRange(records);
        }

        return index;
    }

    /// <summary>
    /// Indexed records that may be the candidate's person, best first: those scoring at least the review
    /// threshold, each with its decision and explanation, up to <paramref name="maxResults"/>.
    /// </summary>
    public IReadOnlyList<MatchCandidate> Match(PersonRecord candidate, MatchIndex index, int maxResults = 10)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(index);
        var query = new PreparedRecord(candidate, -1);
        var positions = index.Candidates(query, out _);
        var scored = new List<(int Position, PairScorer.Score Score)>();
        foreach (var position in positions)
        {
            if (scorer.TryScore(query, index.Records[position], index, Model.ReviewThreshold, out var score))
            {
                scored.Add((position, score));
            }
        }

        return scored
            .OrderByDescending(s => s.Score.Weight)
            .Take(maxResults)
            .Select(s =>
            {
                var record = index.Records[s.Position];
                return new MatchCandidate(record.Record, s.Score.Weight, Model.MatchProbability(s.Score.Weight), s.Score.Decision, scorer.Explain(query, record, index));
            })
            .ToList();
    }

    /// <summary>Explains the score of any two records, using the index (if given) for name frequencies.</summary>
    public MatchExplanation Explain(PersonRecord left, PersonRecord right, MatchIndex? frequencies = null)
    {
        var a = new PreparedRecord(left, -1);
        var b = new PreparedRecord(right, -1);
        return scorer.Explain(a, b, frequencies ?? CreateIndex([left, right]));
    }

    internal MatchExplanation Explain(PreparedRecord left, PreparedRecord right, MatchIndex frequencies) =>
        scorer.Explain(left, right, frequencies);

    /// <summary>Finds the pairs among the records that may be one person, and clusters the auto-linked ones.</summary>
    public DeduplicationResult Deduplicate(IReadOnlyList<PersonRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var index = CreateIndex(records);
        var prepared = index.Records;
        var found = ScoreCandidatePairs(index, out var candidatePairs);

        var clusters = new ClusterBuilder(prepared);
        var pairs = new List<ScoredPair>(found.Count);
        var refused = new List<ScoredPair>();
        foreach (var (i, j, weight, decision, _) in found)
        {
            if (decision == MatchDecision.NoLink)
            {
                continue;
            }

            var pair = new ScoredPair(prepared[i].Record, prepared[j].Record, weight, decision) { LeftPosition = i, RightPosition = j };
            if (decision == MatchDecision.AutoLink && !clusters.TryUnion(i, j))
            {
                refused.Add(pair);
                continue;
            }

            pairs.Add(pair);
        }

        var personClusters = clusters.Clusters()
            .Select(members => new PersonCluster(members.Select(m => prepared[m].Record).ToList(), clusters.NhsOf(members[0])))
            .ToList();

        return new DeduplicationResult(this, index)
        {
            Pairs = pairs,
            Clusters = personClusters,
            RefusedLinks = refused,
            Blocking = new BlockingReport(prepared.Count, index.BlockCount, index.OversizedBlocks, candidatePairs),
        };
    }

    /// <summary>
    /// Scores every candidate pair of the index (in parallel) and returns those at or above the review
    /// threshold, strongest first, in an order that does not depend on thread timing. Pairs holding two
    /// different valid NHS numbers are left out: they are never linked nor offered for review.
    /// </summary>
    internal List<ScoredPosition> ScoreCandidatePairs(MatchIndex index, out long candidatePairs)
    {
        var prepared = index.Records;
        var found = new List<ScoredPosition>();
        var gate = new object();
        long counted = 0;
        var review = Model.ReviewThreshold;

        index.ForEachCandidatePair(
            options.Parallel,
            () => (Found: new List<ScoredPosition>(), Count: new long[1]),
            (i, j, state) =>
            {
                state.Count[0]++;
                if (scorer.TryScore(prepared[i], prepared[j], index, review, out var score))
                {
                    state.Found.Add(new ScoredPosition(i, j, score.Weight, score.Decision, score.NhsConflict));
                }
            },
            state =>
            {
                lock (gate)
                {
                    found.AddRange(state.Found);
                    counted += state.Count[0];
                }
            });

        found.Sort((x, y) => y.Weight != x.Weight ? y.Weight.CompareTo(x.Weight) : x.I != y.I ? x.I.CompareTo(y.I) : x.J.CompareTo(y.J));
        candidatePairs = counted;
        return found;
    }
}

/// <summary>A scored pair of index positions (i &lt; j).</summary>
internal readonly record struct ScoredPosition(int I, int J, double Weight, MatchDecision Decision, bool Conflict);
