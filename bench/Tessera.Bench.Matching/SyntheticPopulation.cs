using Tessera.Identity.Matching;
using Tessera.Identity.NhsNumbers;

namespace Tessera.Bench.Matching;

/// <summary>
/// A seeded synthetic population with realistic skew: thousands of surnames with a few very common ones,
/// UK-shaped postcodes, and duplicates from other sources carrying typos, transposed dates, moves and gaps.
/// </summary>
internal sealed class SyntheticPopulation(int seed)
{
    private static readonly string[] Onsets = ["b", "br", "c", "ch", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "sh", "st", "t", "th", "w", "y"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"];
    private static readonly string[] Codas = ["n", "r", "s", "t", "ll", "ck", "ng", "rd", "son", "ton", "ley", "man", "well", "field", ""];
    private static readonly string[] Given = ["oliver", "amelia", "george", "isla", "harry", "ava", "noah", "mia", "jack", "ivy", "leo", "grace", "arthur", "sophia", "oscar", "lily", "charlie", "freya", "henry", "emily", "thomas", "evie", "william", "ella", "james", "poppy", "joseph", "rosie", "edward", "alice", "mohammed", "aisha", "daniel", "zara", "samuel", "hannah", "joshua", "chloe", "david", "sarah", "michael", "laura", "peter", "susan", "john", "margaret", "robert", "patricia", "paul", "elizabeth"];
    private static readonly string[] Streets = ["high street", "station road", "church lane", "park avenue", "mill lane", "victoria road", "green lane", "manor road", "kings road", "queens drive", "school lane", "the crescent", "north street", "west end", "orchard close"];
    private static readonly string[] Areas = ["LS", "BD", "HX", "WF", "HG", "YO", "HD", "S", "M", "L"];

    private readonly Random random = new(seed);
    private string[]? surnames;

    public List<PersonRecord> Generate(int count, double duplicateShare)
    {
        surnames ??= Enumerable.Range(0, 20_000).Select(_ => Syllables()).Distinct().ToArray();
        var records = new List<PersonRecord>(count);
        var originals = (int)(count * (1 - duplicateShare));
        for (var i = 0; i < originals; i++)
        {
            records.Add(Person(i));
        }

        while (records.Count < count)
        {
            var source = records[random.Next(originals)];
            records.Add(Corrupt(source) with { SourceId = "hospital", RecordId = $"h{records.Count}" });
        }

        return records;
    }

    public PersonRecord Corrupt(PersonRecord r)
    {
        var copy = r;
        var errors = 1 + random.Next(3);
        for (var i = 0; i < errors; i++)
        {
            copy = random.Next(9) switch
            {
                0 => copy with { FamilyName = Typo(copy.FamilyName!) },
                1 => copy with { GivenNames = Typo(copy.GivenNames!) },
                2 => copy with { BirthDate = copy.BirthDate is { } d && d.Day <= 12 ? new DateOnly(d.Year, d.Day, d.Month) : copy.BirthDate?.AddDays(1) },
                3 => copy with { Postcode = null },
                4 => copy with { Phone = null },
                5 => copy with { AddressLine = $"{random.Next(1, 200)} {Streets[random.Next(Streets.Length)]}", Postcode = Postcode() },
                6 => copy with { NhsNumber = null },
                7 => copy with { GivenNames = copy.FamilyName, FamilyName = copy.GivenNames },
                _ => copy with { Town = null, Sex = RecordedSex.Unknown },
            };
        }

        return copy;
    }

    private PersonRecord Person(int i)
    {
        // Squaring a uniform draw skews towards the start of the list: a few surnames are very common.
        var surname = surnames![(int)(Math.Pow(random.NextDouble(), 2.5) * surnames.Length)];
        return new PersonRecord("gp", $"p{i}")
        {
            NhsNumber = random.NextDouble() < 0.8 ? NhsNumberFor() : null,
            GivenNames = Given[(int)(Math.Pow(random.NextDouble(), 1.5) * Given.Length)],
            FamilyName = surname,
            BirthDate = new DateOnly(1925, 1, 1).AddDays(random.Next(365 * 98)),
            Sex = random.Next(2) == 0 ? RecordedSex.Female : RecordedSex.Male,
            Postcode = Postcode(),
            AddressLine = $"{random.Next(1, 300)} {Streets[random.Next(Streets.Length)]}",
            Town = $"{Areas[random.Next(Areas.Length)].ToLowerInvariant()}town{random.Next(1, 40)}",
            Phone = $"07{random.Next(100, 999)} {random.Next(100000, 999999)}",
            Email = random.NextDouble() < 0.3 ? $"{surname}{random.Next(1000)}@example.org" : null,
        };
    }

    private string Postcode() =>
        $"{Areas[random.Next(Areas.Length)]}{random.Next(1, 30)} {random.Next(1, 10)}{(char)('A' + random.Next(26))}{(char)('A' + random.Next(26))}";

    private string NhsNumberFor()
    {
        Span<char> nine = stackalloc char[9];
        while (true)
        {
            for (var k = 0; k < 9; k++)
            {
                nine[k] = (char)('0' + random.Next(10));
            }

            if (NhsNumber.CheckDigit(nine) is { } check)
            {
                return new string(nine) + check;
            }
        }
    }

    private string Syllables()
    {
        var n = 1 + random.Next(3);
        var s = string.Empty;
        for (var i = 0; i < n; i++)
        {
            s += Onsets[random.Next(Onsets.Length)] + Vowels[random.Next(Vowels.Length)];
        }

        return s + Codas[random.Next(Codas.Length)];
    }

    private string Typo(string s)
    {
        if (s.Length < 3)
        {
            return s;
        }

        var chars = s.ToCharArray();
        var i = 1 + random.Next(s.Length - 2);
        switch (random.Next(3))
        {
            case 0:
                (chars[i], chars[i - 1]) = (chars[i - 1], chars[i]);
                return new string(chars);
            case 1:
                chars[i] = (char)('a' + random.Next(26));
                return new string(chars);
            default:
                return s.Remove(i, 1);
        }
    }
}
