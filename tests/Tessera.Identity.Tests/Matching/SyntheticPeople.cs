using Tessera.Identity.Matching;
using Tessera.Testing;

namespace Tessera.Identity.Tests.Matching;

/// <summary>Seeded synthetic people with duplicates carrying typical data-entry errors, for tests with a known truth.</summary>
internal static class SyntheticPeople
{
    private static readonly string[] Given = ["oliver", "amelia", "george", "isla", "harry", "ava", "noah", "mia", "jack", "ivy", "leo", "grace", "arthur", "sophia", "oscar", "lily", "charlie", "freya", "henry", "emily", "thomas", "evie", "william", "ella", "james", "poppy", "joseph", "rosie", "edward", "alice"];
    private static readonly string[] Family = ["smith", "jones", "taylor", "brown", "williams", "wilson", "johnson", "davies", "patel", "robinson", "wright", "thompson", "evans", "walker", "white", "roberts", "green", "hall", "thomas", "clarke", "jackson", "wood", "harris", "edwards", "turner", "martin", "cooper", "hill", "ward", "hughes", "pennington", "okonkwo", "featherstonehaugh", "mcallister", "zielinski"];
    private static readonly string[] Streets = ["high street", "station road", "church lane", "park avenue", "mill lane", "victoria road", "green lane", "manor road", "kings road", "queens drive"];
    private static readonly string[] Towns = ["leeds", "york", "harrogate", "wakefield", "bradford", "halifax"];

    public sealed record Person(PersonRecord Record, int Entity);

    public static List<Person> Generate(int people, double duplicateRate, int seed, bool withNhsNumbers = true)
    {
        var random = new Random(seed);
        var result = new List<Person>();
        for (var e = 0; e < people; e++)
        {
            var original = new PersonRecord("gp", $"p{e}")
            {
                NhsNumber = withNhsNumbers && random.NextDouble() < 0.7 ? TestNhsNumbers.New(random) : null,
                GivenNames = Given[random.Next(Given.Length)],
                FamilyName = Family[random.Next(Family.Length)],
                BirthDate = new DateOnly(1930, 1, 1).AddDays(random.Next(365 * 90)),
                Sex = random.Next(2) == 0 ? RecordedSex.Female : RecordedSex.Male,
                Postcode = $"LS{random.Next(1, 30)} {random.Next(1, 10)}{(char)('A' + random.Next(26))}{(char)('A' + random.Next(26))}",
                AddressLine = $"{random.Next(1, 200)} {Streets[random.Next(Streets.Length)]}",
                Town = Towns[random.Next(Towns.Length)],
                Phone = $"07{random.Next(100, 999)} {random.Next(100000, 999999)}",
            };
            result.Add(new Person(original, e));
            while (random.NextDouble() < duplicateRate)
            {
                result.Add(new Person(Corrupt(original, random) with { SourceId = "hospital", RecordId = $"h{result.Count}" }, e));
            }
        }

        return result;
    }

    public static PersonRecord Corrupt(PersonRecord r, Random random)
    {
        var copy = r;
        var errors = 1 + random.Next(2);
        for (var i = 0; i < errors; i++)
        {
            copy = random.Next(8) switch
            {
                0 => copy with { FamilyName = Typo(copy.FamilyName!, random) },
                1 => copy with { GivenNames = Typo(copy.GivenNames!, random) },
                2 => copy with { BirthDate = copy.BirthDate is { } d && d.Day <= 12 && d.Day != d.Month ? new DateOnly(d.Year, d.Day, d.Month) : copy.BirthDate?.AddDays(1) },
                3 => copy with { Postcode = null },
                4 => copy with { Phone = null },
                5 => copy with { AddressLine = $"{random.Next(1, 200)} {Streets[random.Next(Streets.Length)]}", Postcode = $"LS{random.Next(1, 30)} 1AA" },
                6 => copy with { NhsNumber = null },
                _ => copy with { Town = null },
            };
        }

        return copy;
    }

    private static string Typo(string s, Random random)
    {
        if (s.Length < 3)
        {
            return s;
        }

        var i = 1 + random.Next(s.Length - 2);
        var chars = s.ToCharArray();
        (chars[i], chars[i - 1]) = (chars[i - 1], chars[i]);
        return new string(chars);
    }
}
