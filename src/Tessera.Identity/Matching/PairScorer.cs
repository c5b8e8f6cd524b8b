namespace Tessera.Identity.Matching;

/// <summary>Turns field levels into Fellegi–Sunter weights and a decision, applying the NHS number rules.</summary>
internal sealed class PairScorer
{
    private readonly double[][] weights;
    private readonly double givenExactU;
    private readonly double familyExactU;

    /// <summary>Per field, the most its agreement can add (0 when every level is evidence against); names with the largest frequency adjustment.</summary>
    private readonly double[] best;

    public PairScorer(MatchModel model)
    {
        Model = model;
        weights = model.Fields.Select(f => f.Levels.Select(l => l.Weight).ToArray()).ToArray();
        givenExactU = model[MatchField.GivenName].Levels[NameLevel.Exact].U;
        familyExactU = model[MatchField.FamilyName].Levels[NameLevel.Exact].U;
        best = weights.Select(w => Math.Max(0, w.Max())).ToArray();
        best[(int)MatchField.GivenName] += model.MaxTermFrequencyAdjustment;
        best[(int)MatchField.FamilyName] += model.MaxTermFrequencyAdjustment;
    }

    public MatchModel Model { get; }

    /// <summary>Cheap comparisons first, string similarity last: the order <see cref="TryScore"/> compares in.</summary>
    private static readonly MatchField[] ScoreOrder =
    [
        MatchField.NhsNumber, MatchField.BirthDate, MatchField.Sex, MatchField.Postcode, MatchField.Phone, MatchField.Email,
        MatchField.LocalIdentifier, MatchField.GivenName, MatchField.FamilyName, MatchField.Town, MatchField.AddressLine,
    ];

    public readonly record struct Score(double Weight, bool NhsConflict, MatchDecision Decision);

    public Score Evaluate(PreparedRecord a, PreparedRecord b, MatchIndex frequencies, Span<int> levels)
    {
        FieldComparer.Compare(a, b, levels);

        // Summed in the order TryScore compares, so both give the very same number.
        var total = 0.0;
        foreach (var field in ScoreOrder)
        {
            var level = levels[(int)field];
            if (level == FieldComparer.Missing)
            {
                continue;
            }

            total += field switch
            {
                MatchField.GivenName => weights[(int)field][level] + GivenAdjustment(a, levels, frequencies),
                MatchField.FamilyName => weights[(int)field][level] + FamilyAdjustment(a, levels, frequencies),
                _ => weights[(int)field][level],
            };
        }

        var conflict = levels[(int)MatchField.NhsNumber] == 1;
        return new Score(total, conflict, Decide(total, conflict));
    }

    /// <summary>
    /// The score of a pair that can still reach <paramref name="threshold"/> and holds no two different valid NHS
    /// numbers; false as soon as it cannot (the same score as <see cref="Evaluate"/> when true). Cheap fields are
    /// compared first and the names and address (string similarity) only while the best they could add still
    /// reaches the threshold: most candidate pairs of a large index are settled by birth date, sex, postcode and
    /// phone alone.
    /// </summary>
    public bool TryScore(PreparedRecord a, PreparedRecord b, MatchIndex frequencies, double threshold, out Score score)
    {
        score = default;
        if (a.Nhs is not null && b.Nhs is not null && a.Nhs != b.Nhs)
        {
            return false;
        }

        var total = 0.0;
        total += Weight(MatchField.NhsNumber, FieldComparer.CompareNhs(a, b));
        total += Weight(MatchField.BirthDate, FieldComparer.CompareBirthDate(a.BirthDate, b.BirthDate, a.BirthDigits, b.BirthDigits));
        total += Weight(MatchField.Sex, FieldComparer.CompareSex(a, b));
        total += Weight(MatchField.Postcode, FieldComparer.ComparePostcode(a, b));
        total += Weight(MatchField.Phone, FieldComparer.ComparePhone(a.Phone, b.Phone));
        total += Weight(MatchField.Email, FieldComparer.CompareEmail(a, b));
        total += Weight(MatchField.LocalIdentifier, FieldComparer.CompareIdentifier(a.LocalId, b.LocalId));

        var given = a.GivenFirst is not null && b.GivenFirst is not null;
        var family = a.Family is not null && b.Family is not null;
        var town = a.Town is not null && b.Town is not null;
        var address = a.Address is not null && b.Address is not null;
        var rest = (town ? best[(int)MatchField.Town] : 0) + (address ? best[(int)MatchField.AddressLine] : 0);
        if (total + rest + (given ? best[(int)MatchField.GivenName] : 0) + (family ? best[(int)MatchField.FamilyName] : 0) < threshold)
        {
            return false;
        }

        if (given)
        {
            var level = FieldComparer.CompareGiven(a, b);
            total += weights[(int)MatchField.GivenName][level] + (level == NameLevel.Exact ? Adjustment(givenExactU, frequencies.GivenFrequency(a.GivenFirst!, givenExactU)) : 0);
        }

        if (family)
        {
            var level = FieldComparer.CompareFamily(a, b);
            total += weights[(int)MatchField.FamilyName][level] + (level == NameLevel.Exact ? Adjustment(familyExactU, frequencies.FamilyFrequency(a.Family!, familyExactU)) : 0);
        }

        if (total + rest < threshold)
        {
            return false;
        }

        total += Weight(MatchField.Town, FieldComparer.CompareTown(a.Town, b.Town));
        if (address && total + best[(int)MatchField.AddressLine] < threshold)
        {
            return false;
        }

        total += Weight(MatchField.AddressLine, FieldComparer.CompareAddress(a, b));
        if (total < threshold)
        {
            return false;
        }

        score = new Score(total, false, Decide(total, false));
        return true;
    }

    private double Weight(MatchField field, int level) => level == FieldComparer.Missing ? 0 : weights[(int)field][level];

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
