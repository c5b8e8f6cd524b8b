using Tessera.Demo.Randomness;

namespace Tessera.Demo.Region;

/// <summary>A town of the fictional county of Tessvale, with its postcode districts and a centre to scatter sites around.</summary>
internal sealed record Town(string Name, int[] Districts, double Latitude, double Longitude, double Weight);

/// <summary>
/// Tessvale's geography. Its postcodes use the area "TV", which is well-formed (letter, letter, district,
/// sector, two unit letters) but is not a postcode area in use, so no generated address is anyone's home.
/// Phone numbers come from Ofcom's ranges reserved for drama (07700 900xxx, 01632 960xxx).
/// </summary>
internal static class Geography
{
    public const string County = "Tessvale";
    public const string PostcodeArea = "TV";

    public static readonly Town[] Towns =
    [
        new("Tessford", [1, 2, 3, 4, 5, 6], 52.742, -1.552, 34),
        new("Ashcombe", [7, 8], 52.801, -1.683, 12),
        new("Brackenmoor", [9, 10], 52.688, -1.421, 11),
        new("Caldwick", [11], 52.655, -1.612, 8),
        new("Dunholm", [12, 13], 52.829, -1.472, 10),
        new("Fernley", [14], 52.714, -1.751, 7),
        new("Hartwell Green", [15], 52.861, -1.598, 6),
        new("Kestrel Bridge", [16, 17], 52.627, -1.498, 8),
        new("Lowmarsh", [18], 52.772, -1.372, 4),
    ];

    private static readonly WeightedTable<Town> TownTable = new(Towns.Select(t => (t, t.Weight)));

    private static readonly string[] Streets =
    [
        "High Street", "Church Road", "Station Road", "Mill Lane", "Victoria Road", "Park Avenue", "Queen Street",
        "The Green", "Orchard Close", "Meadow Way", "Manor Road", "School Lane", "Chapel Street", "Elm Grove",
        "Willow Drive", "Beech Road", "King Street", "North Road", "London Road", "Westfield Avenue", "Kestrel Way",
        "Tess Bank", "Vale View", "Brook Street", "Holly Close", "Lime Avenue", "Ashcombe Road", "Foundry Lane",
        "Canal Side", "Bracken Rise", "Oak Crescent", "Heron Court", "Cherry Tree Walk", "Greenacres", "Market Place",
    ];

    // Inward-code unit letters exclude C, I, K, M, O and V, as Royal Mail's do.
    private const string UnitLetters = "ABDEFGHJLNPQRSTUWXYZ";

    public static Town PickTown(DemoRandom rng) => rng.Pick(TownTable);

    public static string Postcode(DemoRandom rng, Town town) =>
        $"{PostcodeArea}{rng.Pick(town.Districts)} {rng.Next(10)}{UnitLetters[rng.Next(UnitLetters.Length)]}{UnitLetters[rng.Next(UnitLetters.Length)]}";

    public static string StreetLine(DemoRandom rng) =>
        rng.Chance(0.08)
            ? $"Flat {rng.Between(1, 24)}, {rng.Pick(["Kestrel House", "Riverside Court", "Vale Heights", "Mill House", "Tess Lodge"])}"
            : $"{rng.Between(1, 180)} {rng.Pick(Streets)}";

    public static string Street(DemoRandom rng) => rng.Pick(Streets);

    public static string Mobile(DemoRandom rng) => $"07700 900{rng.Next(1000):000}";

    public static string Landline(DemoRandom rng) => $"01632 960{rng.Next(1000):000}";

    /// <summary>A point within a couple of kilometres of the town centre.</summary>
    public static (decimal Latitude, decimal Longitude) Near(DemoRandom rng, Town town) =>
        ((decimal)Math.Round(town.Latitude + rng.Normal(0, 0.008), 5), (decimal)Math.Round(town.Longitude + rng.Normal(0, 0.012), 5));
}
