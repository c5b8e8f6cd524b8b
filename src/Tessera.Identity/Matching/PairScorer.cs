namespace Tessera.Identity.Matching;

/// <summary>Turns field levels into Fellegi–Sunter weights and a decision, applying the NHS number rules.</summary>
internal sealed class PairScorer
{
    private readonly double[][] weights;
    private readonly double givenExactU;
    private readonly double familyExactU;

    public PairScorer(MatchModel model)
    {
        Model = model;
        weights = model.Fields.Select(f => f.Levels.Select(l => l.Weight).ToArray()).ToArray();
        givenExactU = model[MatchField.GivenName].Levels[NameLevel.Exact].U;
        familyExactU = model[MatchField.FamilyName].Levels[NameLevel.Exact].U;
    }

    public MatchModel Model { get; }

    public readonly record struct Score(double Weight, bool NhsConflict, MatchDecision Decision);

    public Score Evaluate(PreparedRecord a, PreparedRecord b, MatchIndex frequencies, Span<int> levels)
    {
        FieldComparer.Compare(a, b, levels);
        var total = 0.0;
        for (var f = 0; f < levels.Length; f++)
        {
            var level = levels[f];
            if (level != FieldComparer.Missing)
            {
                total += weights[f][level];
            }
        }

        total += GivenAdjustment(a, levels, frequencies) + FamilyAdjustment(a, levels, frequencies);
        var conflict = levels[(int)MatchField.NhsNumber] == 1;
        return new Score(total, conflict, Decide(total, conflict));
    }

    /// <summary>
    /// Two different valid NHS numbers are never linked automatically, and not offered for review either:
    /// each valid number was issued to one person, so such pairs are most often twins or relatives sharing
    /// surname, birth date and address; a true duplicate number is resolved nationally (PDS), not here.
    /// </summary>
    public MatchDecision Decide(double weight, bool nhsConflict)
    {
        if (nhsConflict)
        {
            return MatchDecision.NoLink;
        }

        return weight >= Model.AutoLinkThreshold ? MatchDecision.AutoLink
            : weight >= Model.ReviewThreshold ? MatchDecision.Review
            : MatchDecision.NoLink;
    }

    public double GivenAdjustment(PreparedRecord a, ReadOnlySpan<int> levels, MatchIndex frequencies) =>
        levels[(int)MatchField.GivenName] == NameLevel.Exact && a.GivenFirst is not null
            ? Adjustment(givenExactU, frequencies.GivenFrequency(a.GivenFirst, givenExactU))
            : 0;

    public double FamilyAdjustment(PreparedRecord a, ReadOnlySpan<int> levels, MatchIndex frequencies) =>
        levels[(int)MatchField.FamilyName] == NameLevel.Exact && a.Family is not null
            ? Adjustment(familyExactU, frequencies.FamilyFrequency(a.Family, familyExactU))
            : 0;

    /// <summary>
    /// Exact agreement on a rare name is stronger evidence than on a common one: the level's u (average chance
    /// agreement) is replaced by the name's own frequency, within a bound so a one-off spelling cannot dominate.
    /// </summary>
    private double Adjustment(double averageU, double frequency)
    {
        var max = Model.MaxTermFrequencyAdjustment;
        return Math.Clamp(Math.Log2(averageU / frequency), -max, max);
    }

    public MatchExplanation Explain(PreparedRecord a, PreparedRecord b, MatchIndex frequencies)
    {
        Span<int> levels = stackalloc int[MatchFields.Count];
        var score = Evaluate(a, b, frequencies, levels);
        var evidence = new List<FieldEvidence>(levels.Length);
        var overrides = new List<string>();
        for (var f = 0; f < levels.Length; f++)
        {
            var field = (MatchField)f;
            var (left, right) = FieldComparer.DisplayValues(field, a, b);
            var level = levels[f];
            string? note = null;
            if (level == FieldComparer.Missing)
            {
                if (field == MatchField.NhsNumber && (a.InvalidNhs || b.InvalidNhs))
                {
                    note = "an invalid NHS number is never used for matching";
                }

                evidence.Add(new FieldEvidence(field, left, right, null, "missing", 0, note));
                continue;
            }

            var weight = weights[f][level];
            if (field == MatchField.GivenName)
            {
                var adjustment = GivenAdjustment(a, levels, frequencies);
                weight += adjustment;
                note = AdjustmentNote(adjustment);
            }
            else if (field == MatchField.FamilyName)
            {
                var adjustment = FamilyAdjustment(a, levels, frequencies);
                weight += adjustment;
                note = AdjustmentNote(adjustment);
            }

            evidence.Add(new FieldEvidence(field, left, right, level, Model[field].Levels[level].Name, weight, note));
        }

        if (score.NhsConflict)
        {
            overrides.Add("Different valid NHS numbers: never linked or offered for review, whatever the other fields say.");
        }

        return new MatchExplanation
        {
            Fields = evidence,
            TotalWeight = score.Weight,
            MatchProbability = Model.MatchProbability(score.Weight),
            Decision = score.Decision,
            AutoLinkThreshold = Model.AutoLinkThreshold,
            ReviewThreshold = Model.ReviewThreshold,
            Overrides = overrides,
        };
    }

    private static string? AdjustmentNote(double adjustment) => adjustment switch
    {
        > 0.005 => $"rare name: {adjustment:+0.00} bits",
        < -0.005 => $"common name: {adjustment:0.00} bits",
        _ => null,
    };
}
