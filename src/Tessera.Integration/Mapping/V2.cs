using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mapping;

/// <summary>Reading HL7 v2 data types (TS, CE/CWE, XPN, XAD, XTN, XCN, PL) as FHIR data types.</summary>
internal static class V2
{
    public const string OdsSystem = "https://fhir.nhs.uk/Id/ods-organization-code";

    /// <summary>A trimmed value, or null when it is absent, empty or the v2 explicit null ("").</summary>
    public static string? Value(Hl7Segment? segment, int field, int repetition = 1, int component = 1, int subcomponent = 1)
    {
        var value = segment?.Get(field, repetition, component, subcomponent)?.Trim();
        return string.IsNullOrEmpty(value) || value == "\"\"" ? null : value;
    }

    public static int Repetitions(Hl7Segment? segment, int field) => segment?.RepetitionCount(field) ?? 0;

    /// <summary>
    /// A v2 TS/DTM (YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]) as a FHIR dateTime; times without an offset are read in the
    /// source's time zone. Null for an absent value; throws <see cref="FormatException"/> for one that is not a timestamp.
    /// </summary>
    public static string? DateTime(string? ts, TimeZoneInfo zone)
    {
        if (ts is null)
        {
            return null;
        }

        var (digits, fraction, offset) = Split(ts);
        switch (digits.Length)
        {
            case 4:
                return digits;
            case 6:
                return $"{digits[..4]}-{digits[4..6]}";
            case 8:
                _ = ParseExact(digits, "yyyyMMdd", ts);
                return $"{digits[..4]}-{digits[4..6]}-{digits[6..8]}";
            case 10 or 12 or 14:
                var local = ParseExact(digits.PadRight(14, '0'), "yyyyMMddHHmmss", ts);
                if (fraction.Length > 0)
                {
                    local = local.AddTicks((long)(double.Parse("0." + fraction, CultureInfo.InvariantCulture) * TimeSpan.TicksPerSecond));
                }

                var at = new DateTimeOffset(local, offset ?? zone.GetUtcOffset(local));
                return at.ToString(fraction.Length > 0 ? "yyyy-MM-dd'T'HH:mm:ss.fffzzz" : "yyyy-MM-dd'T'HH:mm:sszzz", CultureInfo.InvariantCulture);
            default:
                throw new FormatException($"'{ts}' is not an HL7 timestamp (YYYYMMDDHHMMSS[+ZZZZ])");
        }
    }

    /// <summary>A FHIR instant (full precision required): a date alone is taken as midnight in the source's zone.</summary>
    public static DateTimeOffset? Instant(string? ts, TimeZoneInfo zone)
    {
        var value = DateTime(ts, zone);
        if (value is null)
        {
            return null;
        }

        if (value.Length <= 10)
        {
            var full = value.Length switch { 4 => value + "-01-01", 7 => value + "-01", _ => value };
            var date = System.DateTime.ParseExact(full, "yyyy-MM-dd", CultureInfo.InvariantCulture);
            return new DateTimeOffset(date, zone.GetUtcOffset(date));
        }

        return DateTimeOffset.Parse(value, CultureInfo.InvariantCulture);
    }

    /// <summary>The date part of a TS as a FHIR date.</summary>
    public static string? Date(string? ts, TimeZoneInfo zone)
    {
        var value = DateTime(ts, zone);
        return value is null ? null : value.Length > 10 ? value[..10] : value;
    }

    /// <summary>A CE/CWE/CNE as a CodeableConcept (identifier^text^system^alternate identifier^text^system).</summary>
    public static CodeableConcept? Concept(Hl7Segment? segment, int field, int repetition = 1, int subcomponent = 0)
    {
        string? At(int component) => subcomponent == 0 ? Value(segment, field, repetition, component) : Value(segment, field, repetition, subcomponent, component);

        var concept = new CodeableConcept();
        AddCoding(concept, At(1), At(2), At(3));
        AddCoding(concept, At(4), At(5), At(6));
        var text = At(2) ?? At(5);
        if (concept.Coding.Count == 0 && text is null)
        {
            return null;
        }

        concept.Text = text;
        return concept;
    }

    public static CodeableConcept? Concept(string? code, string? display, string system)
    {
        if (code is null)
        {
            return null;
        }

        return new CodeableConcept(system, code, display, null);
    }

    private static void AddCoding(CodeableConcept concept, string? code, string? display, string? system)
    {
        if (code is null)
        {
            return;
        }

        concept.Coding.Add(new Coding(CodeSystem(system), code, display));
    }

    /// <summary>The FHIR URI of a v2 coding system name (table 0396); local names get a Tessera URN.</summary>
    public static string CodeSystem(string? name) => name?.ToUpperInvariant() switch
    {
        null or "" => "urn:tessera:hl7:codesystem:local",
        "LN" or "LOINC" => "http://loinc.org",
        "SCT" or "SNM" or "SNOMED" or "SNOMEDCT" or "SNOMED CT" or "SCT2" => "http://snomed.info/sct",
        "UCUM" or "ISO+" => "http://unitsofmeasure.org",
        "I10" or "ICD10" or "ICD-10" => "http://hl7.org/fhir/sid/icd-10",
        "RC" or "READ" or "READ2" => "http://read.info/readv2",
        "CTV3" or "C3" => "http://read.info/ctv3",
        "NHSDD" => "https://fhir.nhs.uk/CodeSystem/NHSDataDictionary",
        _ when name.StartsWith("HL7", StringComparison.OrdinalIgnoreCase) && name.Length == 7 => "http://terminology.hl7.org/CodeSystem/v2-" + name[3..],
        _ => "urn:tessera:hl7:codesystem:" + Uri.EscapeDataString(name),
    };

    /// <summary>XPN: family^given^second and further given^suffix^prefix^degree^name type.</summary>
    public static HumanName? Name(Hl7Segment segment, int field, int repetition)
    {
        var family = Value(segment, field, repetition, 1);
        var given = Value(segment, field, repetition, 2);
        var middle = Value(segment, field, repetition, 3);
        if (family is null && given is null)
        {
            return null;
        }

        var name = new HumanName { Family = family };
        if (given is not null)
        {
            name.GivenElement.Add(new FhirString(given));
        }

        foreach (var m in (middle ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            name.GivenElement.Add(new FhirString(m));
        }

        if (Value(segment, field, repetition, 4) is { } suffix)
        {
            name.SuffixElement.Add(new FhirString(suffix));
        }

        if (Value(segment, field, repetition, 5) is { } prefix)
        {
            name.PrefixElement.Add(new FhirString(prefix));
        }

        name.Use = Value(segment, field, repetition, 7) switch
        {
            "L" => HumanName.NameUse.Official,
            "D" => HumanName.NameUse.Usual,
            "M" or "B" => HumanName.NameUse.Maiden,
            "N" => HumanName.NameUse.Nickname,
            "A" or "S" => HumanName.NameUse.Anonymous,
            "C" => HumanName.NameUse.Old,
            _ => repetition == 1 ? HumanName.NameUse.Official : null,
        };
        return name;
    }

    /// <summary>XAD: street^other designation^city^state or district^postcode^country^address type.</summary>
    public static Address? Address(Hl7Segment segment, int field, int repetition)
    {
        var lines = new[] { Value(segment, field, repetition, 1), Value(segment, field, repetition, 2) }.Where(l => l is not null).Cast<string>().ToList();
        var address = new Address
        {
            City = Value(segment, field, repetition, 3),
            District = Value(segment, field, repetition, 4),
            PostalCode = Value(segment, field, repetition, 5),
            Country = Value(segment, field, repetition, 6),
        };
        if (lines.Count == 0 && address.City is null && address.PostalCode is null)
        {
            return null;
        }

        address.Line = lines;
        (address.Use, address.Type) = Value(segment, field, repetition, 7) switch
        {
            "H" => ((Address.AddressUse?)global::Hl7.Fhir.Model.Address.AddressUse.Home, (Address.AddressType?)null),
            "B" or "O" => (global::Hl7.Fhir.Model.Address.AddressUse.Work, null),
            "C" => (global::Hl7.Fhir.Model.Address.AddressUse.Temp, null),
            "M" => (null, global::Hl7.Fhir.Model.Address.AddressType.Postal),
            "BA" => (global::Hl7.Fhir.Model.Address.AddressUse.Old, null),
            _ => (null, null),
        };
        return address;
    }

    /// <summary>XTN: [old number]^use^equipment^email^country^area^local number; PID-13 is home, PID-14 work.</summary>
    public static ContactPoint? Telecom(Hl7Segment segment, int field, int repetition, ContactPoint.ContactPointUse defaultUse)
    {
        var equipment = Value(segment, field, repetition, 3);
        var email = Value(segment, field, repetition, 4);
        var number = Value(segment, field, repetition, 1);
        if (number is null && Value(segment, field, repetition, 7) is { } local)
        {
            number = string.Concat(Value(segment, field, repetition, 6), local);
        }

        if (email is not null || equipment is "Internet" or "X.400" || Value(segment, field, repetition, 2) == "NET")
        {
            return (email ?? number) is { } address ? new ContactPoint(ContactPoint.ContactPointSystem.Email, defaultUse, address) : null;
        }

        if (number is null)
        {
            return null;
        }

        var system = equipment switch
        {
            "FX" => ContactPoint.ContactPointSystem.Fax,
            "BP" => ContactPoint.ContactPointSystem.Pager,
            _ => ContactPoint.ContactPointSystem.Phone,
        };
        return new ContactPoint(system, equipment == "CP" ? ContactPoint.ContactPointUse.Mobile : defaultUse, number);
    }

    /// <summary>XCN (id^family^given^...^prefix) as a display reference to a practitioner known only by name and number.</summary>
    public static ResourceReference? Person(Hl7Segment? segment, int field, int repetition = 1)
    {
        var id = Value(segment, field, repetition, 1);
        var family = Value(segment, field, repetition, 2);
        var given = Value(segment, field, repetition, 3);
        var prefix = Value(segment, field, repetition, 6);
        if (id is null && family is null)
        {
            return null;
        }

        var display = string.Join(' ', new[] { prefix, given, family }.Where(p => p is not null));
        return new ResourceReference
        {
            Type = "Practitioner",
            Display = display.Length > 0 ? display : null,
            Identifier = id is null ? null : new Identifier("urn:tessera:hl7:practitioner:" + Uri.EscapeDataString(Value(segment, field, repetition, 9) ?? "local"), id),
        };
    }

    /// <summary>PL: point of care^room^bed^facility^status^type^building^floor^description, as one display text.</summary>
    public static string? Location(Hl7Segment? segment, int field)
    {
        var parts = new[] { Value(segment, field, 1, 4), Value(segment, field, 1, 1), Value(segment, field, 1, 2), Value(segment, field, 1, 3) }
            .Where(p => p is not null).ToList();
        return Value(segment, field, 1, 9) ?? (parts.Count == 0 ? null : string.Join(", ", parts));
    }

    private static (string Digits, string Fraction, TimeSpan? Offset) Split(string ts)
    {
        var text = ts.Split('^')[0];
        TimeSpan? offset = null;
        var sign = text.IndexOfAny(['+', '-']);
        if (sign > 0)
        {
            var z = text[(sign + 1)..];
            if (z.Length != 4 || !z.All(char.IsAsciiDigit))
            {
                throw new FormatException($"'{ts}' has an unreadable time zone offset (expected +HHMM or -HHMM)");
            }

            var span = new TimeSpan(int.Parse(z[..2], CultureInfo.InvariantCulture), int.Parse(z[2..], CultureInfo.InvariantCulture), 0);
            offset = text[sign] == '-' ? -span : span;
            text = text[..sign];
        }

        var dot = text.IndexOf('.', StringComparison.Ordinal);
        var digits = dot < 0 ? text : text[..dot];
        var fraction = dot < 0 ? string.Empty : text[(dot + 1)..];
        if (!digits.All(char.IsAsciiDigit) || !fraction.All(char.IsAsciiDigit))
        {
            throw new FormatException($"'{ts}' is not an HL7 timestamp (YYYYMMDDHHMMSS[+ZZZZ])");
        }

        return (digits, fraction, offset);
    }

    private static System.DateTime ParseExact(string digits, string format, string original) =>
        System.DateTime.TryParseExact(digits, format, CultureInfo.InvariantCulture, DateTimeStyles.None, out var value)
            ? value
            : throw new FormatException($"'{original}' is not a valid date or time");
}
