using System.Text;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using Tessera.Integration.Hl7;

namespace Tessera.Bench.Hl7;

/// <summary>
/// Parser throughput on a typical ADT^A01 and ORU^R01 (fictitious content). Messages/s is 1 / mean;
/// MB/s is the message size over the mean, shown as extra columns.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
public class ParserBenchmarks
{
    public static readonly byte[] AdtA01 = Encoding.UTF8.GetBytes(
        "MSH|^~\\&|PAS|RGH|TESSERA|REGION|20250101120000+0000||ADT^A01^ADT_A01|MSG00001|P|2.5.1|||AL|NE||UNICODE UTF-8\r"
        + "EVN|A01|20250101120000|||C123^WHO^DR^^^^^^RGH\r"
        + "PID|1||9990001234^^^NHS^NH~H123456^^^RGH^MR||DOE^JANE^Q^^MS||19800101|F|||1 HIGH STREET^FLAT 2^LEEDS^^LS1 1AA^GBR^H||0113 496 0000^PRN^PH~07700 900000^ORN^CP|||M|C|||||A|||||||N\r"
        + "PD1|||GENERAL PRACTICE^^G12345|G1234567^SMITH^ALAN^^^DR\r"
        + "NK1|1|DOE^JOHN|SPO^Spouse^HL70063|1 HIGH STREET^^LEEDS^^LS1 1AA^GBR|0113 496 0001\r"
        + "PV1|1|I|WARD1^BED2^^RGH^^^^WARD 1||||C123^WHO^DR^^^^^^RGH|||MED||||19|||C123^WHO^DR|IN|V0001^^^RGH^VN|||||||||||||||||||||||||20250101120000\r"
        + "PV2|||^Chest pain\r"
        + "AL1|1|DA|PEN^Penicillin^L|SV|Rash\r"
        + "DG1|1||R07.4^Chest pain, unspecified^I10|||W\r"
        + "ZPV|custom|data^with^parts\r");

    public static readonly byte[] OruR01 = Encoding.UTF8.GetBytes(BuildOru());

    [Benchmark(Description = "ADT^A01 parse")]
    public Hl7Message ParseAdt() => Hl7Message.Parse(AdtA01);

    [Benchmark(Description = "ORU^R01 parse")]
    public Hl7Message ParseOru() => Hl7Message.Parse(OruR01);

    [Benchmark(Description = "ADT^A01 parse + 8 reads")]
    public int ParseAndReadAdt()
    {
        var m = Hl7Message.Parse(AdtA01);
        return m.ControlId.Length + m.MessageType.Length + m.TriggerEvent.Length + m.Version.Length
            + (m.Get("PID-3(1).1")?.Length ?? 0) + (m.Get("PID-5.1")?.Length ?? 0) + (m.Get("PID-7")?.Length ?? 0) + (m.Get("PV1-3.2")?.Length ?? 0);
    }

    [Benchmark(Description = "ORU^R01 parse + read all OBX-5")]
    public int ParseAndReadOru()
    {
        var m = Hl7Message.Parse(OruR01);
        var total = 0;
        foreach (var obx in m.GetSegments("OBX"))
        {
            total += obx.Get(5)?.Length ?? 0;
        }

        return total;
    }

    [Benchmark(Description = "ADT^A01 serialize")]
    public byte[] SerializeAdt() => AdtParsed.ToBytes();

    private static readonly Hl7Message AdtParsed = Hl7Message.Parse(AdtA01);

    private static string BuildOru()
    {
        var sb = new StringBuilder();
        sb.Append("MSH|^~\\&|LAB|RGH|TESSERA|REGION|20250101120000||ORU^R01^ORU_R01|LAB42|P|2.5.1|||NE|AL||UNICODE UTF-8\r");
        sb.Append("PID|1||H123456^^^RGH^MR~9990001234^^^NHS^NH||DOE^JANE^Q||19800101|F\r");
        sb.Append("PV1|1|O|OPD^^^RGH\r");
        sb.Append("ORC|RE|ORD1^TESSERA|FIL1^LAB||CM\r");
        sb.Append("OBR|1|ORD1^TESSERA|FIL1^LAB|CBC^Full blood count^L|||20250101090000|||||||20250101093000||C123^WHO^DR||||||20250101110000|||F\r");
        string[] tests = ["HB^Haemoglobin", "WBC^White cells", "PLT^Platelets", "RBC^Red cells", "HCT^Haematocrit", "MCV^Mean cell volume", "MCH^Mean cell Hb", "NEUT^Neutrophils", "LYMPH^Lymphocytes", "MONO^Monocytes", "EOS^Eosinophils", "BASO^Basophils"];
        for (var i = 0; i < tests.Length; i++)
        {
            sb.Append("OBX|").Append(i + 1).Append("|NM|").Append(tests[i]).Append("^L||").Append(100 + i).Append(".5|g/L^^UCUM|80-160|N|||F|||20250101110000\r");
        }

        sb.Append("NTE|1|L|Sample slightly haemolysed\\.br\\Repeat if clinically indicated \\T\\ discuss with lab.\r");
        return sb.ToString();
    }

    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig()
        {
            AddColumn(new ThroughputColumn("msg/s", bytes: false));
            AddColumn(new ThroughputColumn("MB/s", bytes: true));
        }
    }

    private sealed class ThroughputColumn(string name, bool bytes) : IColumn
    {
        public string Id => "Throughput" + name;

        public string ColumnName => name;

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => bytes ? "Message megabytes (10^6) parsed per second" : "Messages per second (1 / mean)";

        public string GetValue(Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase)
        {
            var report = summary[benchmarkCase];
            if (report?.ResultStatistics is not { } stats)
            {
                return "-";
            }

            var perSecond = 1e9 / stats.Mean;
            if (!bytes)
            {
                return perSecond.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);
            }

            var size = benchmarkCase.Descriptor.WorkloadMethod.Name.Contains("Oru", StringComparison.Ordinal) ? OruR01.Length : AdtA01.Length;
            return (perSecond * size / 1e6).ToString("N1", System.Globalization.CultureInfo.InvariantCulture);
        }

        public string GetValue(Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkDotNet.Running.BenchmarkCase benchmarkCase) => false;
    }
}
