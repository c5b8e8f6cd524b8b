using System.Text.Json;
using System.Text.Json.Serialization;

namespace Tessera.Identity.Matching;

/// <summary>
/// A trained Fellegi–Sunter model: for every field and agreement level, the probability of seeing that level
/// when two records are the same person (m) and when they are not (u); the level's weight is log2(m/u).
/// Serialised as JSON so a data steward can read, review and keep the exact parameters behind each decision.
/// </summary>
public sealed class MatchModel
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>Model format version, so stored models from older releases can be recognised.</summary>
    public int Version { get; init; } = 1;

    public required IReadOnlyList<FieldParameters> Fields { get; init; }

    /// <summary>Prior probability that a candidate pair (one sharing a blocking key) is a match.</summary>
    public double Lambda { get; init; }

    /// <summary>Total weight (bits) at or above which a pair is linked automatically.</summary>
    public double AutoLinkThreshold { get; init; }

    /// <summary>Total weight (bits) at or above which a pair below the auto-link threshold goes to a person for review.</summary>
    public double ReviewThreshold { get; init; }

    /// <summary>Largest adjustment (bits, either way) that the rarity of an exactly agreeing name may make to that name's weight.</summary>
    public double MaxTermFrequencyAdjustment { get; init; } = 5;

    public TrainingSummary? Training { get; init; }

    public FieldParameters this[MatchField field] => Fields[(int)field];

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static MatchModel FromJson(string json)
    {
        var model = JsonSerializer.Deserialize<MatchModel>(json, JsonOptions) ?? throw new JsonException("The text holds no match model.");
        if (model.Fields.Count != MatchFields.Count || model.Fields.Select((f, i) => f.Field != (MatchField)i).Any(wrong => wrong))
        {
            throw new JsonException($"A match model must list the fields {string.Join(", ", MatchFields.All)} in that order.");
        }

        for (var i = 0; i < model.Fields.Count; i++)
        {
            var expected = MatchFields.LevelNames((MatchField)i).Count;
            if (model.Fields[i].Levels.Count != expected)
            {
                throw new JsonException($"Field {model.Fields[i].Field} must have {expected} levels, found {model.Fields[i].Levels.Count}.");
            }
        }

        return model;
    }

    /// <summary>Posterior probability of a match for a total weight, given the model's prior.</summary>
    public double MatchProbability(double weight)
    {
        var priorOdds = Math.Log2(Lambda / (1 - Lambda));
        return 1 / (1 + Math.Pow(2, -(weight + priorOdds)));
    }
}

public sealed class FieldParameters
{
    public required MatchField Field { get; init; }

    public required IReadOnlyList<LevelParameters> Levels { get; init; }
}

public sealed class LevelParameters
{
    public required string Name { get; init; }

    /// <summary>P(level | same person).</summary>
    public required double M { get; init; }

    /// <summary>P(level | different people).</summary>
    public required double U { get; init; }

    /// <summary>log2(m/u): positive when the level is evidence for a match.</summary>
    public double Weight => Math.Log2(M / U);
}

/// <summary>How the model was trained: enough to judge whether to trust it.</summary>
public sealed class TrainingSummary
{
    public int Records { get; init; }

    public long RandomPairsSampled { get; init; }

    public long CandidatePairs { get; init; }

    /// <summary>Candidate pairs that a deterministic rule (same valid NHS number; exact name, birth date and postcode) calls a match.</summary>
    public long DeterministicMatches { get; init; }

    public int EmIterations { get; init; }

    public bool EmConverged { get; init; }

    /// <summary>Candidate pairs sharing a valid NHS number on which m was measured for the other fields (0: m from EM alone).</summary>
    public long NhsNumberAnchorPairs { get; init; }

    public int Seed { get; init; }
}
