namespace Tessera.Identity.Matching;

/// <summary>
/// Estimates a Fellegi–Sunter model from unlabelled records. u (chance agreement) comes from a seeded sample
/// of random pairs, which are almost all non-matches. m comes from expectation–maximisation over the blocked
/// candidate pairs, with the match prior λ held fixed at a value set by deterministic rules, so EM can only
/// explain which patterns matches produce, not redefine how many matches there are (the usual way it collapses).
/// </summary>
internal static class ModelTrainer
{
    private const int BitsPerField = 4;
    private const ulong MissingCode = 0xF;

    public static MatchModel Train(IReadOnlyList<PersonRecord> source, MatchOptions options)
    {
        var index = new MatchIndex(options.MaxBlockSize);
        index.AddRange(source);
        var records = index.Records;

        var (u, randomPairs) = EstimateU(records, options);
        var patterns = CountPatterns(index, options);
        var candidatePairs = patterns.Values.Sum();
        var deterministic = patterns.Where(p => IsDeterministicMatch(p.Key)).Sum(p => p.Value);

        // Without deterministic matches there is nothing to anchor λ; assume one candidate pair in a thousand.
        var lambda = candidatePairs == 0 ? 1e-3 : Math.Clamp((double)deterministic / candidatePairs, 1e-6, 0.5);
        var (m, iterations, converged) = RunEm(patterns, u, lambda, options);
        var anchorPairs = AnchorOnNhsNumbers(patterns, m);
        MakeMonotone(m, u);

        var fields = new List<FieldParameters>(MatchFields.Count);
        for (var f = 0; f < MatchFields.Count; f++)
        {
            var names = MatchFields.LevelNames((MatchField)f);
            fields.Add(new FieldParameters
            {
                Field = (MatchField)f,
                Levels = names.Select((name, l) => new LevelParameters { Name = name, M = m[f][l], U = u[f][l] }).ToArray(),
            });
        }

        var priorOdds = Math.Log2(lambda / (1 - lambda));
        return new MatchModel
        {
            Fields = fields,
            Lambda = lambda,
            AutoLinkThreshold = Logit2(options.AutoLinkProbability) - priorOdds,
            ReviewThreshold = Logit2(options.ReviewProbability) - priorOdds,
            Training = new TrainingSummary
            {
                Records = records.Count,
                RandomPairsSampled = randomPairs,
                CandidatePairs = candidatePairs,
                DeterministicMatches = deterministic,
                EmIterations = iterations,
                EmConverged = converged,
                NhsNumberAnchorPairs = anchorPairs,
                Seed = options.Seed,
            },
        };
    }

    private static double Logit2(double p) => Math.Log2(p / (1 - p));

    /// <summary>Fewest candidate pairs sharing a valid NHS number for their field agreement to replace EM's m.</summary>
    internal const int MinimumAnchorPairs = 200;

    /// <summary>
    /// Where enough candidate pairs share a valid NHS number, they are a labelled sample of true matches: each
    /// other field's m is measured on them directly (with add-one smoothing) instead of taken from EM. EM alone
    /// can settle on a latent class that is not "same person" — in a real region, households (same surname,
    /// address and postcode, different birth dates) form such a class, and EM then stops penalising a different
    /// birth date. The NHS number blocking key brings these pairs in whatever their other fields say, so the
    /// sample is not biased towards agreement. Returns how many pairs were used (0 when EM's m is kept).
    /// </summary>
    internal static long AnchorOnNhsNumbers(Dictionary<ulong, long> patterns, double[][] m)
    {
        var anchored = patterns.Where(p => Level(p.Key, (int)MatchField.NhsNumber) == 0).ToList();
        var total = anchored.Sum(p => p.Value);
        if (total < MinimumAnchorPairs)
        {
            return 0;
        }

        for (var f = 0; f < m.Length; f++)
        {
            if (f == (int)MatchField.NhsNumber)
            {
                continue;
            }

            var counts = new double[m[f].Length];
            foreach (var (pattern, count) in anchored)
            {
                var level = Level(pattern, f);
                if (level != FieldComparer.Missing)
                {
                    counts[level] += count;
                }
            }

            var observed = counts.Sum();
            if (observed < MinimumAnchorPairs)
            {
                continue; // too few pairs carry this field to measure it; keep EM's estimate
            }

            for (var l = 0; l < counts.Length; l++)
            {
                m[f][l] = (counts[l] + 1) / (observed + counts.Length);
            }
        }

        return total;
    }

    internal static (double[][] U, long Pairs) EstimateU(IReadOnlyList<PreparedRecord> records, MatchOptions options)
    {
        var counts = MatchFields.All.Select(f => new long[MatchFields.LevelNames(f).Count]).ToArray();
        var n = records.Count;
        long sampled = 0;
        if (n >= 2)
        {
            var random = new Random(options.Seed);
            Span<int> levels = stackalloc int[MatchFields.Count];
            for (var s = 0; s < options.RandomPairSample; s++)
            {
                var i = random.Next(n);
                var j = random.Next(n - 1);
                if (j >= i)
                {
                    j++;
                }

                FieldComparer.Compare(records[i], records[j], levels);
                for (var f = 0; f < levels.Length; f++)
                {
                    if (levels[f] != FieldComparer.Missing)
                    {
                        counts[f][levels[f]]++;
                    }
                }

                sampled++;
            }
        }

        // Half a count of smoothing keeps a level never seen by chance (same NHS number) finite but very rare.
        var u = counts.Select(c =>
        {
            var total = c.Sum() + (0.5 * c.Length);
            return c.Select(x => (x + 0.5) / total).ToArray();
        }).ToArray();
        return (u, sampled);
    }

    internal static Dictionary<ulong, long> CountPatterns(MatchIndex index, MatchOptions options)
    {
        var merged = new Dictionary<ulong, long>();
        var gate = new object();
        var records = index.Records;
        index.ForEachCandidatePair(
            options.Parallel,
            () => (Counts: new Dictionary<ulong, long>(), Levels: new int[MatchFields.Count]),
            (i, j, state) =>
            {
                FieldComparer.Compare(records[i], records[j], state.Levels);
                var key = Encode(state.Levels);
                state.Counts[key] = state.Counts.GetValueOrDefault(key) + 1;
            },
            state =>
            {
                lock (gate)
                {
                    foreach (var (key, count) in state.Counts)
                    {
                        merged[key] = merged.GetValueOrDefault(key) + count;
                    }
                }
            });
        return merged;
    }

    internal static ulong Encode(ReadOnlySpan<int> levels)
    {
        ulong key = 0;
        for (var f = 0; f < levels.Length; f++)
        {
            var code = levels[f] == FieldComparer.Missing ? MissingCode : (ulong)levels[f];
            key |= code << (f * BitsPerField);
        }

        return key;
    }

    internal static int Level(ulong pattern, int field)
    {
        var code = (pattern >> (field * BitsPerField)) & 0xF;
        return code == MissingCode ? FieldComparer.Missing : (int)code;
    }

    /// <summary>
    /// The deterministic rules that fix λ: the same valid NHS number, or exact agreement on given name,
    /// family name, birth date and postcode together. Both are near-certain matches in any population.
    /// </summary>
    internal static bool IsDeterministicMatch(ulong pattern) =>
        Level(pattern, (int)MatchField.NhsNumber) == 0
        || (Level(pattern, (int)MatchField.GivenName) == 0
            && Level(pattern, (int)MatchField.FamilyName) == 0
            && Level(pattern, (int)MatchField.BirthDate) == 0
            && Level(pattern, (int)MatchField.Postcode) == 0);

    internal static (double[][] M, int Iterations, bool Converged) RunEm(
        Dictionary<ulong, long> patterns, double[][] u, double lambda, MatchOptions options)
    {
        var fieldCount = MatchFields.Count;
        var m = u.Select(InitialM).ToArray();
        // Sorted so that the sums, and so the model, do not depend on which thread counted which pattern.
        var list = patterns.OrderBy(p => p.Key).Select(p => (Levels: Decode(p.Key, fieldCount), Count: (double)p.Value)).ToArray();
        var iterations = 0;
        var converged = false;
        var sums = u.Select(levels => new double[levels.Length]).ToArray();

        while (iterations < options.EmMaxIterations && !converged)
        {
            iterations++;
            foreach (var s in sums)
            {
                Array.Clear(s);
            }

            foreach (var (levels, count) in list)
            {
                // Work in log space: a pattern agreeing on many fields has a likelihood ratio beyond double range.
                var logRatio = 0.0;
                for (var f = 0; f < fieldCount; f++)
                {
                    var l = levels[f];
                    if (l != FieldComparer.Missing)
                    {
                        logRatio += Math.Log(m[f][l]) - Math.Log(u[f][l]);
                    }
                }

                var posterior = 1 / (1 + Math.Exp(-(logRatio + Math.Log(lambda / (1 - lambda)))));
                var expectedMatches = posterior * count;
                for (var f = 0; f < fieldCount; f++)
                {
                    var l = levels[f];
                    if (l != FieldComparer.Missing)
                    {
                        sums[f][l] += expectedMatches;
                    }
                }
            }

            var maxChange = 0.0;
            for (var f = 0; f < fieldCount; f++)
            {
                var total = sums[f].Sum();
                if (total <= 0)
                {
                    continue;
                }

                var next = new double[sums[f].Length];
                for (var l = 0; l < next.Length; l++)
                {
                    // A tiny floor keeps every level possible for a match, so no single disagreement can veto a link.
                    next[l] = Math.Max((sums[f][l] + 1e-3) / (total + (1e-3 * next.Length)), 1e-5);
                }

                var norm = next.Sum();
                for (var l = 0; l < next.Length; l++)
                {
                    next[l] /= norm;
                    maxChange = Math.Max(maxChange, Math.Abs(next[l] - m[f][l]));
                }

                m[f] = next;
            }

            converged = maxChange < options.EmTolerance;
        }

        return (m, iterations, converged);
    }

    /// <summary>
    /// Partial agreement is never weaker evidence than outright disagreement; where sparse data says otherwise
    /// (a level seen in a handful of matches), its m is raised until its weight equals the disagreement weight.
    /// </summary>
    private static void MakeMonotone(double[][] m, double[][] u)
    {
        for (var f = 0; f < m.Length; f++)
        {
            var last = m[f].Length - 1;
            var floor = m[f][last] / u[f][last];
            for (var l = 0; l < last; l++)
            {
                if (m[f][l] / u[f][l] < floor)
                {
                    m[f][l] = u[f][l] * floor;
                }
            }
        }
    }

    private static int[] Decode(ulong pattern, int fieldCount)
    {
        var levels = new int[fieldCount];
        for (var f = 0; f < fieldCount; f++)
        {
            levels[f] = Level(pattern, f);
        }

        return levels;
    }

    /// <summary>Start EM believing matches mostly agree exactly and rarely disagree outright.</summary>
    private static double[] InitialM(double[] u)
    {
        var levels = u.Length;
        var m = new double[levels];
        m[0] = 0.8;
        var rest = 0.2 - 0.02;
        for (var l = 1; l < levels - 1; l++)
        {
            m[l] = rest / (levels - 2);
        }

        m[levels - 1] = levels == 2 ? 0.2 : 0.02;
        return m;
    }
}
