using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mapping;

/// <summary>ORU^R01: each OBR with its OBX and NTE segments becomes a DiagnosticReport with its Observations.</summary>
internal static class ResultMapping
{
    private const string Interpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";

    public static void Map(MappingContext context, MappedMessage mapped)
    {
        var patient = PatientMapping.Map(context, mapped);
        var orders = context.Message.GetSegments("OBR").ToList();
        if (orders.Count == 0)
        {
            throw new Hl7MappingException("OBR", null, "missing segment; ORU^R01 needs at least one OBR segment (the report)", Hl7ErrorCode.SegmentSequenceError);
        }

        foreach (var obr in orders)
        {
            MapReport(context, mapped, patient, obr);
        }
    }

    private static void MapReport(MappingContext context, MappedMessage mapped, MappedWrite patient, Hl7Segment obr)
    {
        var reportId = V2.Value(obr, 3) ?? V2.Value(obr, 2) ?? throw context.Fail(obr, 3, "the filler order number (OBR-3) or placer order number (OBR-2) is required to identify the report");
        var code = V2.Concept(obr, 4) ?? throw context.Fail(obr, 4, "the universal service identifier (what was tested) is required");
        var effective = context.DateTime(obr, 7);
        var report = new DiagnosticReport
        {
            Meta = MessageMapper.Profile("DiagnosticReport"),
            Identifier = [new Identifier(context.Source.ReportSystem, reportId)],
            Status = V2.Value(obr, 25) switch
            {
                null or "F" => DiagnosticReport.DiagnosticReportStatus.Final,
                "C" => DiagnosticReport.DiagnosticReportStatus.Corrected,
                "P" or "A" => DiagnosticReport.DiagnosticReportStatus.Preliminary,
                "I" or "O" or "S" => DiagnosticReport.DiagnosticReportStatus.Registered,
                "R" => DiagnosticReport.DiagnosticReportStatus.Partial,
                "X" => DiagnosticReport.DiagnosticReportStatus.Cancelled,
                var other => throw context.Fail(obr, 25, $"result status '{other}' is not in HL7 table 0123", Hl7ErrorCode.TableValueNotFound),
            },
            Code = code,
            Subject = new ResourceReference(patient.Key),
            Effective = effective is null ? null : new FhirDateTime(effective),
            Issued = context.Instant(obr, 22),
        };
        if (V2.Value(obr, 24) is { } section)
        {
            report.Category.Add(new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0074", section));
        }

        if (context.Source.OrganizationReference() is { } organisation)
        {
            report.Performer.Add(organisation);
        }

        var notes = new List<string>();
        Observation? last = null;
        var index = 0;
        foreach (var segment in context.Following(obr, "OBR"))
        {
            switch (segment.Id)
            {
                case "OBX":
                    index++;
                    last = MapObservation(context, segment, reportId, index, effective, patient);
                    var setId = V2.Value(segment, 1) ?? index.ToString(CultureInfo.InvariantCulture);
                    var write = mapped.Add(last, new Identifier(context.Source.ObservationSystem, $"{reportId}-{setId}"));
                    report.Result.Add(new ResourceReference(write.Key));
                    break;
                case "NTE" when V2.Value(segment, 3) is { } text:
                    if (last is null)
                    {
                        notes.Add(text);
                    }
                    else
                    {
                        last.Note.Add(new Annotation { Text = text });
                    }

                    break;
            }
        }

        report.Conclusion = notes.Count == 0 ? null : string.Join("\n", notes);
        mapped.Add(report, new Identifier(context.Source.ReportSystem, reportId));
    }

    private static Observation MapObservation(MappingContext context, Hl7Segment obx, string reportId, int index, string? reportTime, MappedWrite patient)
    {
        var setId = V2.Value(obx, 1) ?? index.ToString(CultureInfo.InvariantCulture);
        var observation = new Observation
        {
            Meta = MessageMapper.Profile("Observation"),
            Identifier = [new Identifier(context.Source.ObservationSystem, $"{reportId}-{setId}")],
            Code = V2.Concept(obx, 3) ?? throw context.Fail(obx, 3, "the observation identifier (what was measured) is required"),
            Subject = new ResourceReference(patient.Key),
            Status = V2.Value(obx, 11) switch
            {
                null or "F" => ObservationStatus.Final,
                "C" => ObservationStatus.Corrected,
                "P" or "R" or "S" => ObservationStatus.Preliminary,
                "I" => ObservationStatus.Registered,
                "X" or "N" => ObservationStatus.Cancelled,
                "D" or "W" => ObservationStatus.EnteredInError,
                var other => throw context.Fail(obx, 11, $"observation result status '{other}' is not in HL7 table 0085", Hl7ErrorCode.TableValueNotFound),
            },
        };
        var time = context.DateTime(obx, 14) ?? reportTime;
        observation.Effective = time is null ? null : new FhirDateTime(time);
        observation.Value = Value(context, obx);
        if (observation.Value is null)
        {
            observation.DataAbsentReason = new CodeableConcept("http://terminology.hl7.org/CodeSystem/data-absent-reason", observation.Status == ObservationStatus.Cancelled ? "not-performed" : "unknown");
        }

        if (V2.Value(obx, 7) is { } range)
        {
            observation.ReferenceRange.Add(Range(range, V2.Value(obx, 6)));
        }

        for (var r = 1; r <= V2.Repetitions(obx, 8); r++)
        {
            if (V2.Value(obx, 8, r) is { } flag)
            {
                observation.Interpretation.Add(new CodeableConcept(Interpretation, flag));
            }
        }

        return observation;
    }

    /// <summary>OBX-5 by its data type in OBX-2.</summary>
    private static DataType? Value(MappingContext context, Hl7Segment obx)
    {
        var type = V2.Value(obx, 2);
        var first = V2.Value(obx, 5);
        if (first is null && V2.Repetitions(obx, 5) <= 1)
        {
            return null;
        }

        switch (type)
        {
            case "NM":
                if (!decimal.TryParse(first, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                {
                    throw context.Fail(obx, 5, $"'{first}' is not a number, as OBX-2 'NM' says it is", Hl7ErrorCode.DataTypeError);
                }

                return ToQuantity(obx, number, null);
            case "SN":
                // comparator^num1^separator^num2, e.g. <^5 or ^10^-^20.
                var comparator = V2.Value(obx, 5, 1, 1);
                if (V2.Value(obx, 5, 1, 3) is null && decimal.TryParse(V2.Value(obx, 5, 1, 2), NumberStyles.Float, CultureInfo.InvariantCulture, out var sn))
                {
                    return ToQuantity(obx, sn, comparator switch
                    {
                        "<" => global::Hl7.Fhir.Model.Quantity.QuantityComparator.LessThan,
                        "<=" => global::Hl7.Fhir.Model.Quantity.QuantityComparator.LessOrEqual,
                        ">" => global::Hl7.Fhir.Model.Quantity.QuantityComparator.GreaterThan,
                        ">=" => global::Hl7.Fhir.Model.Quantity.QuantityComparator.GreaterOrEqual,
                        _ => null,
                    });
                }

                return new FhirString(string.Concat(Enumerable.Range(1, 4).Select(c => V2.Value(obx, 5, 1, c))));
            case "CE" or "CWE" or "CNE" or "CF":
                return V2.Concept(obx, 5);
            case "DT" or "TS" or "DTM":
                return context.DateTime(obx, 5) is { } when ? new FhirDateTime(when) : null;
            case "TM":
                return new FhirString(first);
            default:
                // ST, TX, FT and anything else readable: the repetitions are lines of text.
                var lines = Enumerable.Range(1, Math.Max(1, V2.Repetitions(obx, 5))).Select(r => obx.Get(5, r) ?? string.Empty);
                var text = string.Join("\n", lines).Trim();
                return text.Length == 0 ? null : new FhirString(text);
        }
    }

    private static Quantity ToQuantity(Hl7Segment obx, decimal value, Quantity.QuantityComparator? comparator)
    {
        var unit = V2.Value(obx, 6, 1, 1);
        var unitSystem = V2.Value(obx, 6, 1, 3);
        return new Quantity
        {
            Value = value,
            Comparator = comparator,
            Unit = V2.Value(obx, 6, 1, 2) ?? unit,
            Code = unit,
            System = unit is null ? null : unitSystem is null || unitSystem.Equals("UCUM", StringComparison.OrdinalIgnoreCase) || unitSystem == "ISO+" ? "http://unitsofmeasure.org" : V2.CodeSystem(unitSystem),
        };
    }

    /// <summary>OBX-7 as "low-high", "&lt;high", "&gt;low", or text.</summary>
    private static Observation.ReferenceRangeComponent Range(string text, string? unit)
    {
        static Quantity? Q(string s, string? unit) =>
            decimal.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? new Quantity { Value = v, Unit = unit, Code = unit, System = unit is null ? null : "http://unitsofmeasure.org" } : null;

        var range = new Observation.ReferenceRangeComponent { Text = text };
        var dash = text.IndexOf('-', 1);
        if (dash > 0 && Q(text[..dash], unit) is { } low && Q(text[(dash + 1)..], unit) is { } high)
        {
            range.Low = low;
            range.High = high;
        }
        else if (text.StartsWith('<') && Q(text.TrimStart('<', '='), unit) is { } below)
        {
            range.High = below;
        }
        else if (text.StartsWith('>') && Q(text.TrimStart('>', '='), unit) is { } above)
        {
            range.Low = above;
        }

        return range;
    }
}
