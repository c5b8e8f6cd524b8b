namespace Tessera.Integration.Tests.Hl7;

/// <summary>Small hand-written messages (fictitious people and systems).</summary>
internal static class Samples
{
    public const string AdtA01 =
        "MSH|^~\\&|PAS|RGH|TESSERA|REGION|20250101120000+0000||ADT^A01^ADT_A01|MSG00001|P|2.5.1|||AL|NE||UNICODE UTF-8\r"
        + "EVN|A01|20250101120000\r"
        + "PID|1||9990001234^^^NHS^NH~H123456^^^RGH^MR||DOE^JANE^Q^^MS||19800101|F|||1 HIGH ST^^LEEDS^^LS1 1AA^GBR\r"
        + "PV1|1|I|WARD1^BED2^^RGH||||C123^WHO^DR\r"
        + "ZPV|custom|data^with^parts\r";

    public const string OruR01 =
        "MSH|^~\\&|LAB|RGH|TESSERA|REGION|20250101120000||ORU^R01^ORU_R01|LAB42|P|2.4\r"
        + "PID|1||H123456^^^RGH^MR||DOE^JANE\r"
        + "OBR|1|ORD1|FIL1|CBC^Full blood count^L\r"
        + "OBX|1|NM|HB^Haemoglobin^L||135|g/L|115-165|N|||F\r"
        + "OBX|2|NM|WBC^White cells^L||7.2|10*9/L|4.0-11.0|N|||F\r"
        + "OBX|3|FT|COMMENT^Comment^L||Line one\\.br\\Line two \\T\\ more||||||F\r";
}
