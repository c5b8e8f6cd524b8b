using System.Text;
using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;
using Tessera.Integration.Mapping;
using Tessera.Integration.Tests.Feed;

namespace Tessera.Integration.Tests.Mapping;

/// <summary>Each supported message type mapped to UK Core-shaped resources (no store: the mapping is pure).</summary>
public sealed class MappingTests
{
    private static readonly Hl7Source Source = Hl7Source.From([Messages.Source])[0];

    private static MappedMessage Map(string text) => MessageMapper.Map(Hl7Message.Parse(text), Source);

    private static T Only<T>(MappedMessage mapped)
        where T : Resource => Assert.Single(mapped.Writes.Select(w => w.Resource).OfType<T>());

    [Fact]
    public void A01_gives_the_source_patient_with_nhs_and_local_numbers_and_an_inpatient_visit()
    {
        var mapped = Map(Messages.Adt("A01", "C1", "M100", "V100"));

        var patient = Only<Patient>(mapped);
        Assert.Equal(MessageMapper.UkCore + "Patient", patient.Meta.Profile.Single());
        Assert.Equal(new[] { (Messages.PatientSystem, "M100"), ("https://fhir.nhs.uk/Id/nhs-number", "9434765919") }, patient.Identifier.Select(i => (i.System!, i.Value!)));
        Assert.Equal("SMITH", patient.Name[0].Family);
        Assert.Equal(new[] { "ALICE", "MAY" }, patient.Name[0].Given);
        Assert.Equal(AdministrativeGender.Female, patient.Gender);
        Assert.Equal("1975-04-12", patient.BirthDate);
        Assert.Equal("LS1 4AB", patient.Address[0].PostalCode);
        Assert.Contains(patient.Telecom, t => t.System == ContactPoint.ContactPointSystem.Email && t.Value == "alice@example.org");
        Assert.Equal($"{Messages.PatientSystem}|M100", mapped.PatientKey);

        var encounter = Only<Encounter>(mapped);
        Assert.Equal("IMP", encounter.Class.Code);
        Assert.Equal(Encounter.EncounterStatus.InProgress, encounter.Status);
        Assert.Equal(mapped.Writes[0].Key, encounter.Subject.Reference);
        Assert.Equal("2026-03-01T10:00:00+00:00", encounter.Period.Start);
        Assert.Equal("RXH, WARD 7, BAY 2, BED 4", encounter.Location[0].Location.Display);
        Assert.Contains(encounter.Participant, p => p.Individual.Display == "DR PETER JONES" && p.Type[0].Coding[0].Code == "ATND");
        Assert.Equal("V100", mapped.Writes[1].MatchOn.Value);
    }

    [Theory]
    [InlineData("A03", "I", Encounter.EncounterStatus.Finished)]
    [InlineData("A05", "P", Encounter.EncounterStatus.Planned)]
    [InlineData("A11", "I", Encounter.EncounterStatus.Cancelled)]
    [InlineData("A13", "I", Encounter.EncounterStatus.InProgress)]
    [InlineData("A02", "I", Encounter.EncounterStatus.InProgress)]
    public void Visit_events_set_the_encounter_status(string trigger, string patientClass, Encounter.EncounterStatus status)
    {
        var encounter = Only<Encounter>(Map(Messages.Adt(trigger, "C1", "M1", "V1", patientClass)));

        Assert.Equal(status, encounter.Status);
        if (trigger == "A03")
        {
            Assert.Equal("2026-03-05T16:00:00+00:00", encounter.Period.End);
        }
    }

    [Fact]
    public void An_emergency_attendance_A04_is_an_EMER_encounter_of_type_ED_visit()
    {
        var encounter = Only<Encounter>(Map(Messages.Adt("A04", "C1", "M1", "V1", "E")));

        Assert.Equal("EMER", encounter.Class.Code);
        Assert.Equal("4525004", encounter.Type[0].Coding[0].Code);
        Assert.Equal(Encounter.EncounterStatus.InProgress, encounter.Status);
    }

    [Theory]
    [InlineData("A28")]
    [InlineData("A31")]
    [InlineData("A08")]
    public void Person_events_without_a_visit_write_the_patient_only(string trigger)
    {
        var mapped = Map(Messages.Adt(trigger, "C1", "M1"));

        Assert.IsType<Patient>(Assert.Single(mapped.Writes).Resource);
    }

    [Fact]
    public void A_visit_without_a_number_is_keyed_by_patient_and_admit_time_and_without_either_is_an_error_on_PV1_19()
    {
        var unnumbered = Messages.Adt("A01", "C1", "M1", "V1").Replace("|V1|", "||", StringComparison.Ordinal);

        var encounter = Only<Encounter>(Map(unnumbered));
        Assert.Equal((Messages.IdentifierBase + "/admission", "M1/20260301100000"), (encounter.Identifier[0].System, encounter.Identifier[0].Value));

        var error = Assert.Throws<Hl7MappingException>(() => Map(unnumbered.Replace("|20260301100000\r", "|\r", StringComparison.Ordinal)));
        Assert.Equal(("PV1", 19, 4), (error.SegmentId, error.Field, error.SegmentSequence));
    }

    [Fact]
    public void A_local_patient_class_is_kept_as_the_source_code()
    {
        var encounter = Only<Encounter>(Map(Messages.Adt("A01", "C1", "M1", "V1", "DAY CASE")));

        Assert.Equal(("DAY CASE", "urn:tessera:hl7:codesystem:patient-class"), (encounter.Class.Code, encounter.Class.System));
    }

    [Fact]
    public void An_invalid_NHS_number_is_an_error_on_PID_3()
    {
        var error = Assert.Throws<Hl7MappingException>(() => Map(Messages.Adt("A28", "C1", "M1", nhs: "9434765918")));

        Assert.Equal(("PID", 3, Hl7ErrorCode.DataTypeError), (error.SegmentId, error.Field, error.Code));
        Assert.Contains("not a valid one", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_timestamp_that_is_not_one_is_a_data_type_error()
    {
        var error = Assert.Throws<Hl7MappingException>(() => Map(Messages.Adt("A28", "C1", "M1").Replace("19750412", "1975-04-12", StringComparison.Ordinal)));

        Assert.Equal(("PID", 7, Hl7ErrorCode.DataTypeError), (error.SegmentId, error.Field, error.Code));
    }

    [Fact]
    public void A40_merges_the_prior_number_into_the_surviving_patient()
    {
        var mapped = Map(Messages.Adt("A40", "C1", "M-SURVIVOR", extra: "MRG|M-RETIRED^^^RXH^MR\r").Replace("ADT^A40^ADT_A01", "ADT^A40^ADT_A39", StringComparison.Ordinal));

        Assert.Empty(mapped.Writes);
        Assert.Equal("M-RETIRED", mapped.Merge!.Source.Value);
        Assert.Equal("M-SURVIVOR", mapped.Merge.Target.Value);
        Assert.Equal(Messages.PatientSystem, mapped.Merge.Source.System);
    }

    [Fact]
    public void ORU_R01_gives_a_report_with_typed_observations()
    {
        var mapped = Map(Messages.Header("ORU^R01^ORU_R01", "C1")
            + "PID|1||M1^^^RXH^MR||SMITH^ALICE\r"
            + "OBR|1|P1|F1|58410-2^CBC panel^LN|||20260301090000|||||||||||||||20260301110000||HM|F\r"
            + "NTE|1||Reported by the duty biochemist\r"
            + "OBX|1|NM|718-7^Hemoglobin^LN||135|g/L^g/L^UCUM|115-165|N|||F\r"
            + "OBX|2|SN|2345-7^Glucose^LN||<^2.5|mmol/L|3.0-6.0|L|||F\r"
            + "OBX|3|CE|600-7^Culture^LN||112283007^E. coli^SCT||||||P\r"
            + "NTE|1||Sensitivities to follow\r");

        var report = Only<DiagnosticReport>(mapped);
        Assert.Equal(DiagnosticReport.DiagnosticReportStatus.Final, report.Status);
        Assert.Equal("http://loinc.org", report.Code.Coding[0].System);
        Assert.Equal("2026-03-01T09:00:00+00:00", ((FhirDateTime)report.Effective).Value);
        Assert.Equal("Reported by the duty biochemist", report.Conclusion);
        Assert.Equal("HM", report.Category[0].Coding[0].Code);
        var observations = mapped.Writes.Select(w => w.Resource).OfType<Observation>().ToList();
        Assert.Equal(3, observations.Count);
        Assert.Equal(observations.Select(o => mapped.Writes.Single(w => w.Resource == o).Key), report.Result.Select(r => r.Reference));
        var hb = (Quantity)observations[0].Value;
        Assert.Equal((135m, "g/L", "http://unitsofmeasure.org"), (hb.Value!.Value, hb.Code, hb.System));
        Assert.Equal((115m, 165m), (observations[0].ReferenceRange[0].Low.Value!.Value, observations[0].ReferenceRange[0].High.Value!.Value));
        Assert.Equal(Quantity.QuantityComparator.LessThan, ((Quantity)observations[1].Value).Comparator);
        Assert.Equal("L", observations[1].Interpretation[0].Coding[0].Code);
        Assert.Equal("http://snomed.info/sct", ((CodeableConcept)observations[2].Value).Coding[0].System);
        Assert.Equal(ObservationStatus.Preliminary, observations[2].Status);
        Assert.Equal("Sensitivities to follow", observations[2].Note[0].Text);
        Assert.Equal("F1-1", observations[0].Identifier[0].Value);
    }

    [Fact]
    public void ORU_without_a_test_code_is_an_error_on_OBX_3()
    {
        var error = Assert.Throws<Hl7MappingException>(() => Map(Messages.Header("ORU^R01^ORU_R01", "C1")
            + "PID|1||M1^^^RXH^MR||SMITH^ALICE\rOBR|1|P1|F1|58410-2^CBC^LN\rOBX|1|NM|||135\r"));

        Assert.Equal(("OBX", 3, 4), (error.SegmentId, error.Field, error.SegmentSequence));
    }

    [Theory]
    [InlineData("S12", Appointment.AppointmentStatus.Booked)]
    [InlineData("S13", Appointment.AppointmentStatus.Booked)]
    [InlineData("S14", Appointment.AppointmentStatus.Booked)]
    [InlineData("S15", Appointment.AppointmentStatus.Cancelled)]
    public void SIU_gives_an_appointment(string trigger, Appointment.AppointmentStatus status)
    {
        var mapped = Map(Messages.Header($"SIU^{trigger}^SIU_S12", "C1")
            + "SCH|PL1|APPT77||||ILL^Patient unwell|FU^Follow-up^HL70276|ROUTINE|30|min|^^30^20260310093000^20260310100000|||||||||||||||Booked\r"
            + "PID|1||M1^^^RXH^MR||SMITH^ALICE\r"
            + "RGS|1\r"
            + "AIS|1||CARD^Cardiology clinic^L|20260310093000|||30|min\r"
            + "AIL|1||CLINIC 3^^^RXH\r"
            + "AIP|1||C1234^JONES^PETER^^^DR|ATND^Attending\r");

        var appointment = Only<Appointment>(mapped);
        Assert.Equal(status, appointment.Status);
        Assert.Equal("APPT77", appointment.Identifier[0].Value);
        Assert.Equal(new DateTimeOffset(2026, 3, 10, 9, 30, 0, TimeSpan.Zero), appointment.Start);
        Assert.Equal(new DateTimeOffset(2026, 3, 10, 10, 0, 0, TimeSpan.Zero), appointment.End);
        Assert.Equal(30, appointment.MinutesDuration);
        Assert.Equal("Cardiology clinic", appointment.ServiceType[0].Text);
        Assert.Equal(3, appointment.Participant.Count);
        Assert.Equal(mapped.Writes[0].Key, appointment.Participant[0].Actor.Reference);
        Assert.Equal(trigger == "S15" ? "ILL" : null, appointment.CancelationReason?.Coding[0].Code);
    }

    [Fact]
    public void A_booked_appointment_without_a_start_is_an_error_on_SCH_11()
    {
        var error = Assert.Throws<Hl7MappingException>(() => Map(Messages.Header("SIU^S12^SIU_S12", "C1") + "SCH|PL1|APPT1\rPID|1||M1^^^RXH^MR||SMITH^ALICE\r"));

        Assert.Equal(("SCH", 11), (error.SegmentId, error.Field));
    }

    [Fact]
    public void MDM_T02_gives_a_document_reference_carrying_the_document()
    {
        var pdf = Encoding.ASCII.GetBytes("%PDF-1.4 a small document");
        var mapped = Map(Messages.Header("MDM^T02^MDM_T02", "C1")
            + "EVN|T02|20260301120000\r"
            + "PID|1||M1^^^RXH^MR||SMITH^ALICE\r"
            + "PV1|1|I|WARD 7||||||||||||||||V9\r"
            + "TXA|1|DS^Discharge summary|AP|20260301113000|C1234^JONES^PETER^^^DR|||||||DOC-555||||Discharge summary|AU\r"
            + $"OBX|1|ED|DS^Discharge summary||^application^pdf^Base64^{Convert.ToBase64String(pdf)}||||||F\r");

        var document = Only<DocumentReference>(mapped);
        Assert.Equal("DOC-555", document.MasterIdentifier.Value);
        Assert.Equal(CompositionStatus.Final, document.DocStatus);
        Assert.Equal("DS", document.Type.Coding[0].Code);
        Assert.Equal("application/pdf", document.Content[0].Attachment.ContentType);
        Assert.Equal(pdf, document.Content[0].Attachment.Data);
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 11, 30, 0, TimeSpan.Zero), document.Date);
        Assert.Equal("V9", document.Context.Encounter[0].Identifier.Value);
        Assert.Equal("DR PETER JONES", document.Author[0].Display);
    }

    [Fact]
    public void MDM_with_text_lines_gives_a_plain_text_document_and_without_content_an_error()
    {
        var header = Messages.Header("MDM^T02^MDM_T02", "C1") + "PID|1||M1^^^RXH^MR||SMITH^ALICE\r" + "TXA|1|CN|TX|20260301113000||||||||DOC-9||||Letter|DO\r";

        var document = Only<DocumentReference>(Map(header + "OBX|1|TX|||Dear Dr Smith,~Seen today.\rOBX|2|TX|||Yours sincerely\r"));
        Assert.Equal("text/plain; charset=utf-8", document.Content[0].Attachment.ContentType);
        Assert.Equal("Dear Dr Smith,\nSeen today.\nYours sincerely", Encoding.UTF8.GetString(document.Content[0].Attachment.Data));
        Assert.Equal(CompositionStatus.Preliminary, document.DocStatus);

        var error = Assert.Throws<Hl7MappingException>(() => Map(header));
        Assert.Equal(("OBX", 5), (error.SegmentId, error.Field));
    }

    [Fact]
    public void Times_without_an_offset_are_read_in_the_source_time_zone()
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Europe/London");

        Assert.Equal("2026-07-01T09:30:00+01:00", V2.DateTime("202607010930", zone));
        Assert.Equal("2026-01-01T09:30:00+00:00", V2.DateTime("202601010930", zone));
        Assert.Equal("2026-07-01T09:30:00-05:00", V2.DateTime("202607010930-0500", zone));
        Assert.Equal("2026-07", V2.DateTime("202607", zone));
        Assert.Throws<FormatException>(() => V2.DateTime("20261301", zone));
    }

    [Fact]
    public void Supported_types_are_recognised_and_others_named()
    {
        Assert.Null(MessageMapper.Unsupported(Hl7Message.Parse(Messages.Adt("A31", "C1", "M1"))));
        Assert.Equal(Hl7ErrorCode.UnsupportedEventCode, MessageMapper.Unsupported(Hl7Message.Parse(Messages.Adt("A60", "C1", "M1")))!.Code);
        Assert.Equal(Hl7ErrorCode.UnsupportedMessageType, MessageMapper.Unsupported(Hl7Message.Parse(Messages.Header("VXU^V04^VXU_V04", "C1")))!.Code);
    }
}
