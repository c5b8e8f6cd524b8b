using Tessera.Demo.Randomness;

namespace Tessera.Demo.People;

/// <summary>An NHS Data Dictionary ethnic category (UK Core EthnicCategory code system).</summary>
internal sealed record EthnicCategory(string Code, string Display, NameGroup Names);

/// <summary>
/// England's population shape: five-year age bands (ONS mid-year estimates, rounded, in millions) with the
/// male share of each band falling in old age, and the 2021 Census ethnic groups mapped to NHS categories.
/// </summary>
internal static class Demography
{
    private static readonly (int From, double Millions, double MaleShare)[] AgeBands =
    [
        (0, 3.2, 0.512), (5, 3.5, 0.512), (10, 3.5, 0.512), (15, 3.3, 0.512), (20, 3.5, 0.505),
        (25, 3.8, 0.497), (30, 3.9, 0.494), (35, 3.8, 0.494), (40, 3.5, 0.494), (45, 3.6, 0.493),
        (50, 3.9, 0.493), (55, 3.8, 0.491), (60, 3.3, 0.487), (65, 2.8, 0.481), (70, 2.9, 0.472),
        (75, 2.1, 0.458), (80, 1.4, 0.432), (85, 0.9, 0.395), (90, 0.5, 0.320),
    ];

    private static readonly WeightedTable<int> BandTable = new(AgeBands.Select((b, i) => (i, b.Millions)));

    public static readonly EthnicCategory[] EthnicCategories =
    [
        new("A", "British, Mixed British", NameGroup.English),
        new("B", "Irish", NameGroup.Irish),
        new("C", "Any other White background", NameGroup.EuropeanOther),
        new("D", "White and Black Caribbean", NameGroup.English),
        new("E", "White and Black African", NameGroup.English),
        new("F", "White and Asian", NameGroup.English),
        new("G", "Any other mixed background", NameGroup.English),
        new("H", "Indian or British Indian", NameGroup.Indian),
        new("J", "Pakistani or British Pakistani", NameGroup.Pakistani),
        new("K", "Bangladeshi or British Bangladeshi", NameGroup.Bangladeshi),
        new("L", "Any other Asian background", NameGroup.Other),
        new("M", "Caribbean", NameGroup.Caribbean),
        new("N", "African", NameGroup.African),
        new("P", "Any other Black background", NameGroup.Caribbean),
        new("R", "Chinese", NameGroup.Chinese),
        new("S", "Any other ethnic group", NameGroup.Other),
        new("Z", "Not stated", NameGroup.English),
    ];

    // Census 2021 England percentages, with "not stated" as recorded in GP systems.
    private static readonly double[] EthnicWeights = [71.5, 0.9, 6.4, 0.9, 0.5, 0.8, 0.7, 3.3, 2.8, 1.1, 1.6, 1.1, 2.6, 0.5, 0.8, 2.2, 2.3];

    private static readonly WeightedTable<EthnicCategory> EthnicTable = new(EthnicCategories.Select((e, i) => (e, EthnicWeights[i])));

    /// <summary>Draws an age in whole years and a sex from the joint age/sex pyramid.</summary>
    public static (int Age, bool Male) AgeAndSex(DemoRandom rng)
    {
        var band = AgeBands[rng.Pick(BandTable)];
        var width = band.From == 90 ? 12 : 5;

        // The 90+ band thins out quickly; a squared draw puts most of it in the early nineties.
        var age = band.From == 90 ? band.From + (int)(width * Math.Pow(rng.NextDouble(), 2)) : band.From + rng.Next(width);
        return (age, rng.Chance(band.MaleShare));
    }

    public static EthnicCategory Ethnicity(DemoRandom rng) => rng.Pick(EthnicTable);

    /// <summary>The share of England's population aged at least <paramref name="age"/> (for tests' bounds).</summary>
    public static double ShareAtLeast(int age)
    {
        var total = AgeBands.Sum(b => b.Millions);
        return AgeBands.Where(b => b.From >= age).Sum(b => b.Millions) / total;
    }
}
