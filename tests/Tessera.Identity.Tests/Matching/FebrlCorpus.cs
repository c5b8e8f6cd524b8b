using System.Globalization;
using Tessera.Identity.Matching;

namespace Tessera.Identity.Tests.Matching;

/// <summary>
/// Reads the FEBRL synthetic record-linkage corpora (Australian-style person records with known duplicates)
/// into <see cref="PersonRecord"/>s. The social security number is left out on purpose: the engine must find
/// people from names, dates and addresses, as it must for a source that sends no NHS number.
/// </summary>
internal static class FebrlCorpus
{
    public const string MissingMessage =
        "FEBRL corpus not found: expected shared/corpora/febrl beside the repository root (the folder holding Tessera.slnx); accuracy tests skipped.";

    public static string? Folder { get; } = Locate();

    private static string? Locate()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tessera.slnx")))
        {
            dir = dir.Parent;
        }

        if (dir?.Parent is null)
        {
            return null;
        }

        var folder = Path.Combine(dir.Parent.FullName, "shared", "corpora", "febrl");
        return Directory.Exists(folder) ? folder : null;
    }

    /// <summary>A labelled record: the person and the entity it belongs to in the ground truth.</summary>
    public sealed record Labelled(PersonRecord Record, string Entity);

    public static List<Labelled> Load(string relativePath, string sourceId = "febrl", bool useSocialSecurityNumber = false)
    {
        var path = Path.Combine(Folder ?? throw new InvalidOperationException("The FEBRL corpus folder was not found."), relativePath);
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',').Select(h => h.Trim()).ToArray();
        int Col(string name) => Array.IndexOf(header, name);
        var id = Col("rec_id");
        var given = Col("given_name");
        var surname = Col("surname");
        var number = Col("street_number");
        var address1 = Col("address_1");
        var address2 = Col("address_2");
        var suburb = Col("suburb");
        var postcode = Col("postcode");
        var dob = Col("date_of_birth");
        var phone = Col("phone_number");
        var ssn = useSocialSecurityNumber ? Col("soc_sec_id") : -1;

        var result = new List<Labelled>(lines.Length);
        foreach (var line in lines.Skip(1))
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            var v = line.Split(',').Select(x => x.Trim()).ToArray();
            string? Get(int i) => i >= 0 && i < v.Length && v[i].Length > 0 ? v[i] : null;
            var recId = v[id];
            var address = string.Join(' ', new[] { Get(address2), Get(number), Get(address1) }.Where(x => x is not null));
            var record = new PersonRecord(sourceId, recId)
            {
                GivenNames = Get(given),
                FamilyName = Get(surname),
                AddressLine = address.Length > 0 ? address : null,
                Town = Get(suburb),
                Postcode = Get(postcode),
                BirthDate = ParseDate(Get(dob)),
                Phone = Get(phone),
                LocalIdentifier = Get(ssn),
            };
            result.Add(new Labelled(record, EntityOf(recId)));
        }

        return result;
    }

    /// <summary>"rec-12-dup-0" → "12"; dsgen numeric ids drop their last digit, the copy number.</summary>
    private static string EntityOf(string recId)
    {
        if (recId.StartsWith("rec-", StringComparison.Ordinal))
        {
            return recId.Split('-')[1];
        }

        return recId[..^1];
    }

    private static DateOnly? ParseDate(string? text) =>
        text is { Length: 8 } && DateOnly.TryParseExact(text, "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : null;

    /// <summary>All unordered pairs of record ids sharing an entity.</summary>
    public static HashSet<(string, string)> TruePairs(IEnumerable<Labelled> records)
    {
        var set = new HashSet<(string, string)>();
        foreach (var group in records.GroupBy(r => r.Entity))
        {
            var ids = group.Select(r => r.Record.RecordId).ToArray();
            for (var i = 0; i < ids.Length; i++)
            {
                for (var j = i + 1; j < ids.Length; j++)
                {
                    set.Add(Ordered(ids[i], ids[j]));
                }
            }
        }

        return set;
    }

    public static (string, string) Ordered(string a, string b) => string.CompareOrdinal(a, b) < 0 ? (a, b) : (b, a);

    public sealed record Accuracy(int TruePositives, int FalsePositives, int FalseNegatives)
    {
        public double Precision => TruePositives + FalsePositives == 0 ? 1 : TruePositives / (double)(TruePositives + FalsePositives);

        public double Recall => TruePositives + FalseNegatives == 0 ? 1 : TruePositives / (double)(TruePositives + FalseNegatives);

        public double F1 => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);

        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"precision {Precision:0.0000}, recall {Recall:0.0000}, F1 {F1:0.0000} (TP {TruePositives}, FP {FalsePositives}, FN {FalseNegatives})");
    }

    public static Accuracy Score(IEnumerable<(string, string)> predicted, HashSet<(string, string)> truth)
    {
        var predictedSet = predicted.Select(p => Ordered(p.Item1, p.Item2)).ToHashSet();
        var tp = predictedSet.Count(truth.Contains);
        return new Accuracy(tp, predictedSet.Count - tp, truth.Count - tp);
    }
}
