using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mapping;

/// <summary>
/// ADT events to Patient and Encounter. Each message carries the whole current state of the visit (PV1), so the
/// Encounter is rebuilt from it and written over the previous version by its visit number.
/// </summary>
internal static class AdtMapping
{
    private const string ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    private const string Snomed = "http://snomed.info/sct";

    /// <summary>Events that are about a visit, and so need PV1 with a visit number (PV1-19).</summary>
    private static readonly HashSet<string> VisitEvents = ["A01", "A02", "A03", "A11", "A12", "A13"];

    public static void Map(MappingContext context, MappedMessage mapped)
    {
        if (context.Trigger == "A40")
        {
            MapMerge(context, mapped);
            return;
        }

        var patient = PatientMapping.Map(context, mapped);
        if (context.Trigger is "A28" or "A31")
        {
            return;
        }

        var pv1 = context.Message.GetSegment("PV1");
        var visit = VisitIdentifier(context, pv1, patient);
        if (pv1 is null || visit is null)
        {
            if (!VisitEvents.Contains(context.Trigger))
            {
                return; // A04, A05 and A08 may be about the person alone.
            }

            throw pv1 is null
                ? new Hl7MappingException("PV1", null, $"missing segment; ADT^{context.Trigger} needs a PV1 segment (the visit)", Hl7ErrorCode.SegmentSequenceError)
                : context.Fail(pv1, 19, $"the visit number (PV1-19, or PV1-50, or at least the admit time PV1-44) is required for ADT^{context.Trigger}");
        }

        mapped.Add(Encounter(context, pv1, visit, patient), visit);
    }

    /// <summary>
    /// The visit number PV1-19, else the alternate visit id PV1-50; a sender that gives neither still identifies the
    /// stay by the patient's local number and the admission time PV1-44.
    /// </summary>
    private static Identifier? VisitIdentifier(MappingContext context, Hl7Segment? pv1, MappedWrite patient)
    {
        if ((V2.Value(pv1, 19) ?? V2.Value(pv1, 50)) is { } number)
        {
            return new Identifier(context.Source.EncounterSystem, number) { Use = Identifier.IdentifierUse.Official };
        }

        return V2.Value(pv1, 44) is { } admitted
            ? new Identifier(context.Source.AdmissionSystem, $"{patient.MatchOn.Value}/{admitted}") { Use = Identifier.IdentifierUse.Secondary }
            : null;
    }

    private static Encounter Encounter(MappingContext context, Hl7Segment pv1, Identifier visit, MappedWrite patient)
    {
        var patientClass = V2.Value(pv1, 2) ?? throw context.Fail(pv1, 2, "the patient class (I, O, E, P, R, B) is required for a visit");
        var (classCode, classDisplay) = patientClass switch
        {
            "I" or "B" => ("IMP", "inpatient encounter"),
            "O" or "R" or "N" => ("AMB", "ambulatory"),
            "E" => ("EMER", "emergency"),
            "P" => ("PRENC", "pre-admission"),
            _ => (patientClass, patientClass), // A local class (e.g. "DAY CASE"): kept as the source's own code.
        };
        var admitted = context.DateTime(pv1, 44);
        var discharged = context.DateTime(pv1, 45);
        var evn = context.Message.GetSegment("EVN");
        var encounter = new Encounter
        {
            Meta = MessageMapper.Profile("Encounter"),
            Identifier = [visit],
            Class = classCode == patientClass ? new Coding(V2.CodeSystem("patient-class"), classCode, classDisplay) : new Coding(ActCode, classCode, classDisplay),
            Subject = new ResourceReference(patient.Key),
            ServiceProvider = context.Source.OrganizationReference(),
            Status = Status(context, pv1, discharged, admitted),
        };
        if (classCode == "EMER")
        {
            encounter.Type.Add(new CodeableConcept(Snomed, "4525004", "Emergency department patient visit", "Emergency department attendance"));
        }

        var start = admitted ?? (context.Trigger is "A04" or "A01" ? context.DateTime(evn, 6) ?? context.DateTime(evn, 2) : null);
        if (start is not null || discharged is not null)
        {
            encounter.Period = new Period { Start = start, End = encounter.Status == global::Hl7.Fhir.Model.Encounter.EncounterStatus.Finished ? discharged ?? context.DateTime(evn, 6) ?? context.DateTime(evn, 2) : null };
        }

        if (V2.Location(pv1, 3) is { } current)
        {
            encounter.Location.Add(new Encounter.LocationComponent
            {
                Location = new ResourceReference { Display = current, Identifier = new Identifier(context.Source.LocationSystem, current) },
                Status = encounter.Status == global::Hl7.Fhir.Model.Encounter.EncounterStatus.Finished ? global::Hl7.Fhir.Model.Encounter.EncounterLocationStatus.Completed : global::Hl7.Fhir.Model.Encounter.EncounterLocationStatus.Active,
            });
        }

        if (context.Trigger == "A02" && V2.Location(pv1, 6) is { } prior)
        {
            encounter.Location.Insert(0, new Encounter.LocationComponent
            {
                Location = new ResourceReference { Display = prior, Identifier = new Identifier(context.Source.LocationSystem, prior) },
                Status = global::Hl7.Fhir.Model.Encounter.EncounterLocationStatus.Completed,
            });
        }

        AddParticipant(encounter, pv1, 7, "ATND", "attender");
        AddParticipant(encounter, pv1, 17, "ADM", "admitter");
        AddParticipant(encounter, pv1, 8, "REF", "referrer");
        var admitSource = V2.Value(pv1, 14);
        var disposition = V2.Value(pv1, 36);
        if (admitSource is not null || disposition is not null)
        {
            encounter.Hospitalization = new Encounter.HospitalizationComponent
            {
                AdmitSource = V2.Concept(admitSource, null, "http://terminology.hl7.org/CodeSystem/v2-0023"),
                DischargeDisposition = V2.Concept(disposition, null, "http://terminology.hl7.org/CodeSystem/v2-0112"),
            };
        }

        if (context.Message.GetSegment("PV2") is { } pv2 && V2.Concept(pv2, 3) is { } reason)
        {
            encounter.ReasonCode.Add(reason);
        }

        return encounter;
    }

    private static Encounter.EncounterStatus Status(MappingContext context, Hl7Segment pv1, string? discharged, string? admitted) => context.Trigger switch
    {
        "A03" => global::Hl7.Fhir.Model.Encounter.EncounterStatus.Finished,
        "A05" => global::Hl7.Fhir.Model.Encounter.EncounterStatus.Planned,
        "A11" => global::Hl7.Fhir.Model.Encounter.EncounterStatus.Cancelled,
        "A04" when V2.Value(pv1, 2) != "E" && admitted is null => global::Hl7.Fhir.Model.Encounter.EncounterStatus.Arrived,
        "A08" when discharged is not null => global::Hl7.Fhir.Model.Encounter.EncounterStatus.Finished,
        "A08" when admitted is null && V2.Value(pv1, 2) == "P" => global::Hl7.Fhir.Model.Encounter.EncounterStatus.Planned,
        _ => global::Hl7.Fhir.Model.Encounter.EncounterStatus.InProgress, // A01, A02, A04 (ED), A08, A12 (transfer undone), A13 (discharge undone)
    };

    private static void AddParticipant(Encounter encounter, Hl7Segment pv1, int field, string code, string display)
    {
        if (V2.Person(pv1, field) is { } person)
        {
            encounter.Participant.Add(new Encounter.ParticipantComponent
            {
                Type = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", code, display, null)],
                Individual = person,
            });
        }
    }

    /// <summary>A40: the patient in MRG-1 (retired) is merged into the patient in PID-3 (surviving), through the index's $merge.</summary>
    private static void MapMerge(MappingContext context, MappedMessage mapped)
    {
        var pid = context.Require("PID", "a PID segment (the surviving patient)");
        var mrg = context.Require("MRG", "an MRG segment (the patient merged away)");
        var target = PatientMapping.LocalIdentifierIn(context, pid, 3) ?? throw context.Fail(pid, 3, "the surviving patient's local identifier is required");
        var source = PatientMapping.LocalIdentifierIn(context, mrg, 1) ?? throw context.Fail(mrg, 1, "the prior patient's local identifier is required");
        if (source.Value == target.Value)
        {
            throw context.Fail(mrg, 1, $"the prior identifier '{source.Value}' is the surviving patient's own; nothing to merge", Hl7ErrorCode.DataTypeError);
        }

        mapped.PatientKey = $"{target.System}|{target.Value}";
        mapped.Merge = new PatientMerge(source, target);
    }
}
