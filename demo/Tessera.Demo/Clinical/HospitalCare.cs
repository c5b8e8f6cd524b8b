using System.Text;
using Hl7.Fhir.Model;
using Tessera.Demo.Fhir;
using Tessera.Demo.People;
using Tessera.Demo.Region;

namespace Tessera.Demo.Clinical;

/// <summary>Urgent and hospital care: 111 calls, ambulance responses, emergency attendances, admissions and clinics.</summary>
internal sealed partial class HistoryBuilder
{
    private static readonly (string Code, string Display, bool Infection)[] Presentations =
    [
        ("29857009", "Chest pain", false), ("267036007", "Dyspnea", true), ("21522001", "Abdominal pain", false), ("125605004", "Fracture of bone", false),
        ("217082002", "Accidental fall", false), ("386661006", "Fever", true), ("25064002", "Headache", false), ("422587007", "Nausea", false),
    ];

    /// <summary>Calls to NHS 111 that ended in self-care advice or a GP appointment.</summary>
    private void AddNhs111Calls()
    {
        var calls = rng.Poisson(person.Age < 5 ? 0.5 : person.Age >= 75 ? 0.45 : 0.2);
        for (var i = 0; i < calls; i++)
        {
            AddNhs111Call(RandomMomentInLast(SecondaryCareDays), rng.Pick(Presentations));
        }
    }

    private void AddNhs111Call(DateTimeOffset when, (string Code, string Display, bool Infection) presentation)
    {
        var clinician = rng.Pick(region.Nhs111.Staff);
        var call = NewEncounter("VR", "virtual", "185317003", "Telephone encounter", Primary, clinician, when, when.AddMinutes(rng.Between(8, 25)), RegionDirectory.Nhs111Id, region.Nhs111.Site.LocationId);
        call.ReasonCode = [FhirBuild.Snomed(presentation.Code, presentation.Display)];
        builder.Add(call);
    }

    private void AddHospitalCare(int emergencyAttendances, bool electiveAdmission)
    {
        for (var i = 0; i < emergencyAttendances; i++)
        {
            AddEmergencyAttendance();
        }

        if (electiveAdmission)
        {
            AddAdmission(RandomMomentInLast(SecondaryCareDays - 30), emergency: false, null);
        }

        foreach (var (definition, _) in person.Conditions)
        {
            if (definition.Sensitivity == Sensitivity.None && rng.Chance(0.2))
            {
                AddOutpatientCourse(definition);
            }
        }
    }

    /// <summary>
    /// An emergency department attendance: some after a 111 call, some brought by a 999 ambulance (with the
    /// paramedics' observations), then triage observations, bloods for the unwell and, for some, admission.
    /// </summary>
    private void AddEmergencyAttendance()
    {
        var arrival = RandomMomentInLast(SecondaryCareDays - 30);
        var presentation = rng.Pick(Presentations);
        if (rng.Chance(person.Age >= 75 ? 0.55 : 0.25))
        {
            AddAmbulanceResponse(arrival.AddMinutes(-rng.Between(40, 120)), presentation);
        }
        else if (rng.Chance(0.25))
        {
            AddNhs111Call(arrival.AddMinutes(-rng.Between(60, 240)), presentation);
        }

        var doctor = rng.Pick(region.EmergencyDoctors);
        var nurse = rng.Pick(region.EmergencyNurses);
        var attendance = NewEncounter("EMER", "emergency", "4525004", "Emergency department patient visit", hospital!, doctor, arrival, arrival.AddMinutes(rng.Between(60, 420)), RegionDirectory.AcuteTrustId, region.EmergencyDepartment.LocationId);
        attendance.ReasonCode = [FhirBuild.Snomed(presentation.Code, presentation.Display)];
        var attendanceId = builder.Add(attendance);
        AddAcuteObservations(hospital!, attendanceId, arrival.AddMinutes(15), nurse, unwell: presentation.Infection || rng.Chance(0.3), news2: person.Age >= 16);
        if (rng.Chance(person.Age >= 65 ? 0.7 : 0.4))
        {
            AddLabPanel(hospital!, attendanceId, arrival.AddMinutes(45), doctor, Laboratory.FullBloodCount, presentation.Infection);
            AddLabPanel(hospital!, attendanceId, arrival.AddMinutes(45), doctor, Laboratory.RenalFunction, presentation.Infection);
            AddLabPanel(hospital!, attendanceId, arrival.AddMinutes(45), doctor, Laboratory.Inflammation, presentation.Infection);
        }

        var admitChance = 0.12 + (person.Age >= 75 ? 0.25 : 0) + 0.03 * person.Conditions.Count;
        if (rng.Chance(admitChance))
        {
            AddAdmission(arrival.AddMinutes(rng.Between(240, 600)), emergency: true, presentation);
        }
    }

    private void AddAmbulanceResponse(DateTimeOffset called, (string Code, string Display, bool Infection) presentation)
    {
        var crew = rng.Pick(region.Ambulance.Staff);
        var response = NewEncounter("FLD", "field", FhirBuild.Text("Emergency ambulance response, see and convey"), Primary, crew, called, called.AddMinutes(rng.Between(35, 90)), RegionDirectory.AmbulanceId, null);
        response.ReasonCode = [FhirBuild.Snomed(presentation.Code, presentation.Display)];
        response.Hospitalization = new Encounter.HospitalizationComponent
        {
            Destination = FhirBuild.Ref("Location", region.EmergencyDepartment.LocationId, region.EmergencyDepartment.Name),
        };
        var responseId = builder.Add(response);
        AddAcuteObservations(Primary, responseId, called.AddMinutes(rng.Between(8, 25)), crew, unwell: presentation.Infection || rng.Chance(0.3), news2: person.Age >= 16);
    }

    private void AddAdmission(DateTimeOffset admitted, bool emergency, (string Code, string Display, bool Infection)? presentation)
    {
        var main = person.Conditions.Count > 0 ? rng.Pick(person.Conditions).Definition : null;
        if (main?.Sensitivity is not null and not Sensitivity.None)
        {
            main = null; // a mental health crisis is not admitted to the acute trust's wards
        }

        var specialty = main?.Specialty ?? (person.Age >= 75 ? "elderly" : person.Age < 16 ? "paediatrics" : "medicine");
        var wardIndex = Math.Max(0, region.Clinics.ToList().FindIndex(c => c.Site.LocationId.EndsWith(specialty, StringComparison.Ordinal)));
        var ward = region.Wards[wardIndex];
        var consultant = rng.Pick(ward.Clinicians);
        var lengthOfStay = Math.Min(30, 1 + rng.Poisson(person.Age >= 75 ? 6 : 2.5));
        var discharged = new DateTimeOffset(admitted.AddDays(lengthOfStay).Date.AddHours(rng.Between(10, 18)), TimeSpan.Zero);
        var stillIn = discharged > Now;
        var toCareHome = person.Age >= 80 && rng.Chance(0.08);
        var stay = NewEncounter("IMP", "inpatient encounter", "185212007", "Seen in hospital ward", hospital!, consultant, admitted, discharged, RegionDirectory.AcuteTrustId, ward.Site.LocationId);
        stay.Hospitalization = new Encounter.HospitalizationComponent();
        stay.Hospitalization.Extension.Add(new Extension(
            UkCore.AdmissionMethodExtension,
            emergency
                ? FhirBuild.Concept(Systems.AdmissionMethod, "21", "Emergency Admission: Emergency Care Department or dental casualty department of the Health Care Provider")
                : FhirBuild.Concept(Systems.AdmissionMethod, "11", "Elective Admission: Waiting list")));
        if (!stillIn)
        {
            stay.Extension.Add(new Extension(UkCore.DischargeMethodExtension, FhirBuild.Concept(Systems.DischargeMethod, "1", "Patient discharged on clinical advice or with clinical consent")));
            stay.Hospitalization.DischargeDisposition = toCareHome
                ? FhirBuild.Concept(Systems.DischargeDestination, "65", "Local Authority residential accommodation i.e. where care is provided")
                : FhirBuild.Concept(Systems.DischargeDestination, "19", "Usual place of residence unless listed below, for example, a private dwelling whether owner occupied or owned by Local Authority, housing association or other landlord. This includes wardened accommodation but not residential accommodation where health care is provided. It also includes patients with no fixed abode.");
        }

        if (main is not null)
        {
            stay.ReasonReference = [FhirBuild.Urn(_conditionIds[main.Key])];
        }
        else if (presentation is { } p)
        {
            stay.ReasonCode = [FhirBuild.Snomed(p.Code, p.Display)];
        }

        var stayId = builder.Add(stay);
        var nurse = rng.Pick(region.EmergencyNurses);
        var unwell = presentation?.Infection ?? false;

        // Observations each morning of the stay (the first five days), bloods on admission and before discharge.
        for (var day = 0; day < Math.Min(lengthOfStay, 5); day++)
        {
            var at = admitted.AddDays(day).AddHours(day == 0 ? 1 : 0);
            if (at < Now)
            {
                AddAcuteObservations(hospital!, stayId, at, nurse, unwell && day < 2, news2: person.Age >= 16);
            }
        }

        AddLabPanel(hospital!, stayId, admitted.AddHours(2), consultant, Laboratory.FullBloodCount, unwell);
        AddLabPanel(hospital!, stayId, admitted.AddHours(2), consultant, Laboratory.RenalFunction, unwell);
        AddLabPanel(hospital!, stayId, admitted.AddHours(2), consultant, Laboratory.Inflammation, unwell);
        if (lengthOfStay >= 3 && !stillIn)
        {
            AddLabPanel(hospital!, stayId, discharged.AddHours(-6), consultant, Laboratory.RenalFunction);
        }

        if (!stillIn)
        {
            AddDischarge(stayId, ward, consultant, admitted, discharged, emergency, main, presentation, toCareHome);
        }
    }

    /// <summary>
    /// Discharge: the diagnosis the hospital records, the medicines it sends the person home on (referencing the
    /// formulary's Medication resources), a structured discharge summary (Composition) and the letter as sent
    /// (DocumentReference with a text body).
    /// </summary>
    private void AddDischarge(string encounterId, Unit ward, Staff consultant, DateTimeOffset admitted, DateTimeOffset discharged, bool emergency, ConditionDefinition? main, (string Code, string Display, bool Infection)? presentation, bool toCareHome)
    {
        var diagnosisCode = main is not null ? FhirBuild.Snomed(main.Code, main.Display)
            : presentation is { } p ? FhirBuild.Snomed(p.Code, p.Display)
            : FhirBuild.Snomed("396275006", "Osteoarthritis");
        var diagnosisId = builder.Add(new Condition
        {
            Meta = FhirBuild.Profile(UkCore.Condition),
            ClinicalStatus = FhirBuild.Concept(Systems.ConditionClinical, main is null ? "resolved" : "active", main is null ? "Resolved" : "Active"),
            VerificationStatus = FhirBuild.Concept(Systems.ConditionVerification, "confirmed", "Confirmed"),
            Category = [FhirBuild.Concept(Systems.ConditionCategory, "encounter-diagnosis", "Encounter Diagnosis")],
            Code = diagnosisCode,
            Subject = hospital!.Reference(Name),
            Encounter = FhirBuild.Urn(encounterId),
            Onset = new FhirDateTime(FhirBuild.DateTime(admitted)),
            Abatement = main is null ? new FhirDateTime(FhirBuild.DateTime(discharged)) : null,
            RecordedDate = FhirBuild.DateTime(admitted.AddHours(4)),
            Recorder = Who(consultant),
        });

        var medicines = person.Conditions.SelectMany(c => c.Definition.Medicines).Distinct().ToList();
        if (presentation?.Infection == true)
        {
            medicines.Add(person.Allergy?.Code == "91936005" ? Catalogue.Clarithromycin : Catalogue.Amoxicillin);
        }

        var medicineIds = new List<ResourceReference>();
        foreach (var medicine in medicines)
        {
            medicineIds.Add(FhirBuild.Urn(builder.Add(new MedicationRequest
            {
                Meta = FhirBuild.Profile(UkCore.MedicationRequest),
                Status = MedicationRequest.MedicationrequestStatus.Completed,
                Intent = MedicationRequest.MedicationRequestIntent.Order,
                Category = [FhirBuild.Concept("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "discharge", "Discharge")],
                Medication = FhirBuild.Ref("Medication", RegionDirectory.MedicationId(medicine), medicine.Display),
                Subject = hospital.Reference(Name),
                Encounter = FhirBuild.Urn(encounterId),
                AuthoredOn = FhirBuild.DateTime(discharged.AddHours(-3)),
                Requester = Who(consultant),
                DosageInstruction = [new Dosage { Text = medicine.Dosage }],
                DispenseRequest = new MedicationRequest.DispenseRequestComponent
                {
                    ExpectedSupplyDuration = new Duration { Value = 14, Unit = "day", System = Systems.Ucum, Code = "d" },
                },
                Substitution = new MedicationRequest.SubstitutionComponent { Allowed = new FhirBoolean(true) },
            })));
        }

        var destination = toCareHome ? "residential care" : "usual place of residence";
        builder.Add(new Composition
        {
            Meta = FhirBuild.Profile(UkCore.Composition),
            Status = CompositionStatus.Final,
            Type = FhirBuild.Snomed("373942005", "Discharge summary"),
            Subject = hospital.Reference(Name),
            Encounter = FhirBuild.Urn(encounterId),
            Date = FhirBuild.DateTime(discharged),
            Author = [Who(consultant), FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, RegionDirectory.AcuteTrustName)],
            Title = $"Discharge summary, {ward.Site.Name}",
            Custodian = FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, RegionDirectory.AcuteTrustName),
            Section =
            [
                Section("diagnoses", "Diagnoses", [FhirBuild.Urn(diagnosisId)], null),
                Section("medications-and-medical-devices", "Medications and medical devices", medicineIds, medicineIds.Count == 0 ? "No medicines on discharge." : null),
                Section("allergies-and-adverse-reaction", "Allergies and adverse reaction", [], person.Allergy?.Display ?? "No known drug allergies."),
                Section("discharge-details", "Discharge details", [], $"{(emergency ? "Emergency" : "Elective")} admission {admitted:dd-MMM-yyyy}; discharged {discharged:dd-MMM-yyyy} to {destination}."),
                Section("plan-and-requested-actions", "Plan and requested actions", [], "GP to review in 2 weeks and repeat U&E."),
            ],
        });

        var mrn = hospital.IdentifierValue;
        var text = new StringBuilder()
            .AppendLine("DISCHARGE SUMMARY")
            .AppendLine($"{RegionDirectory.AcuteTrustName} - {ward.Site.Name}")
            .AppendLine()
            .AppendLine($"Patient: {person.Given} {person.Family.ToUpperInvariant()}   Date of birth: {person.BirthDate:dd-MMM-yyyy}   MRN: {mrn}   NHS number: {person.NhsNumber ?? "not recorded"}")
            .AppendLine($"Admitted: {admitted:dd-MMM-yyyy HH:mm} ({(emergency ? "emergency, via the Emergency Department" : "elective, from the waiting list")})")
            .AppendLine($"Discharged: {discharged:dd-MMM-yyyy HH:mm} to {destination}")
            .AppendLine()
            .AppendLine($"Presenting complaint: {presentation?.Display ?? "planned admission"}")
            .AppendLine($"Principal diagnosis: {diagnosisCode.Text}")
            .AppendLine($"Other problems: {string.Join(", ", person.Conditions.Where(c => c.Definition != main && c.Definition.Sensitivity == Sensitivity.None).Select(c => c.Definition.Display).DefaultIfEmpty("none recorded"))}")
            .AppendLine($"Allergies: {person.Allergy?.Display ?? "no known drug allergies"}")
            .AppendLine()
            .AppendLine($"Medicines on discharge: {string.Join("; ", medicines.Select(m => $"{m.Display} - {m.Dosage}").DefaultIfEmpty("none"))}")
            .AppendLine("Actions for GP: review in 2 weeks; repeat bloods (U&E) at review.")
            .AppendLine()
            .AppendLine($"Responsible consultant: {consultant.Name}, {ward.SpecialtyDisplay}")
            .ToString();
        AddLetter(hospital, encounterId, consultant, discharged, "373942005", "Discharge summary", $"Discharge summary, {ward.Site.Name}", text, admitted);
    }

    private static Composition.SectionComponent Section(string code, string title, List<ResourceReference> entries, string? narrative) => new()
    {
        Title = title,
        Code = FhirBuild.Concept(Systems.RecordStandardHeadings, code, title),
        Entry = entries,
        Text = narrative is null ? null : new Narrative
        {
            Status = Narrative.NarrativeStatus.Generated,
            Div = $"<div xmlns=\"http://www.w3.org/1999/xhtml\">{System.Net.WebUtility.HtmlEncode(narrative)}</div>",
        },
    };

    private void AddLetter(SourcePatient subject, string encounterId, Staff author, DateTimeOffset written, string typeCode, string typeDisplay, string description, string text, DateTimeOffset? periodStart = null)
    {
        builder.Add(new DocumentReference
        {
            Meta = FhirBuild.Profile(UkCore.DocumentReference),
            Status = DocumentReferenceStatus.Current,
            DocStatus = CompositionStatus.Final,
            Type = FhirBuild.Snomed(typeCode, typeDisplay),
            Category = [FhirBuild.Snomed("823691000000103", "Clinical letter")],
            Subject = subject.Reference(Name),
            Date = written,
            Author = [Who(author)],
            Custodian = FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, RegionDirectory.AcuteTrustName),
            Description = description,
            Content =
            [
                new DocumentReference.ContentComponent
                {
                    Attachment = new Attachment
                    {
                        ContentType = "text/plain",
                        Language = "en-GB",
                        Data = Encoding.UTF8.GetBytes(text),
                        Title = typeDisplay,
                        Creation = FhirBuild.DateTime(written),
                    },
                },
            ],
            Context = new DocumentReference.ContextComponent
            {
                Encounter = [FhirBuild.Urn(encounterId)],
                Period = new Period { Start = FhirBuild.DateTime(periodStart ?? written), End = FhirBuild.DateTime(written) },
                FacilityType = FhirBuild.Snomed("22232009", "Hospital"),
            },
        });
    }

    /// <summary>A course of outpatient care for a condition: a first appointment, follow-ups (some missed) and the clinic letter.</summary>
    private void AddOutpatientCourse(ConditionDefinition definition)
    {
        var clinic = region.Clinics.First(c => c.Site.LocationId.EndsWith(definition.Specialty, StringComparison.Ordinal));
        var consultant = rng.Pick(clinic.Clinicians);
        var start = RandomMomentInLast(SecondaryCareDays - 120);
        var visits = 1 + rng.Poisson(1.2);
        for (var v = 0; v < visits; v++)
        {
            var when = start.AddDays(v * rng.Between(42, 120));
            if (when >= Now)
            {
                AddAppointment(hospital!, consultant, clinic.Site.LocationId, when, 20, "FOLLOWUP", $"{clinic.SpecialtyDisplay} outpatient follow-up", Appointment.AppointmentStatus.Booked);
                break;
            }

            var type = v == 0 ? "ROUTINE" : "FOLLOWUP";
            if (rng.Chance(0.08))
            {
                AddAppointment(hospital!, consultant, clinic.Site.LocationId, when, 20, type, $"{clinic.SpecialtyDisplay} outpatient appointment", Appointment.AppointmentStatus.Noshow);
                continue;
            }

            var appointmentId = AddAppointment(hospital!, consultant, clinic.Site.LocationId, when, 20, type, $"{clinic.SpecialtyDisplay} outpatient appointment", Appointment.AppointmentStatus.Fulfilled);
            var visit = v == 0
                ? NewEncounter("AMB", "ambulatory", "11429006", "Consultation", hospital!, consultant, when, when.AddMinutes(20), RegionDirectory.AcuteTrustId, clinic.Site.LocationId)
                : NewEncounter("AMB", "ambulatory", "185389009", "Follow-up visit", hospital!, consultant, when, when.AddMinutes(20), RegionDirectory.AcuteTrustId, clinic.Site.LocationId);
            visit.Appointment = [FhirBuild.Urn(appointmentId)];
            visit.ReasonReference = [FhirBuild.Urn(_conditionIds[definition.Key])];
            var visitId = builder.Add(visit);
            if (person.Age >= 16)
            {
                AddBloodPressure(hospital!, visitId, when, consultant);
                AddHeartRate(hospital!, visitId, when, consultant);
            }

            if (definition.Key is "ckd" or "diabetes" or "heart-failure")
            {
                AddLabPanel(hospital!, visitId, when, consultant, Laboratory.RenalFunction);
            }

            if (v == 0)
            {
                var letter = $"Dear Dr {person.UsualGp.Name.Split(' ')[^1]},\n\nRe: {person.Given} {person.Family}, born {person.BirthDate:dd-MMM-yyyy}\n\n" +
                    $"I saw {person.Given} today in the {clinic.SpecialtyDisplay.ToLowerInvariant()} clinic about {definition.Display.ToLowerInvariant()}. " +
                    "I have made no change to the current treatment and will see them again in clinic.\n\nYours sincerely,\n" + consultant.Name;
                AddLetter(hospital!, visitId, consultant, when.AddDays(rng.Between(2, 10)), "371531000", "Report of clinical encounter", $"{clinic.SpecialtyDisplay} clinic letter", letter);
            }
        }
    }
}
