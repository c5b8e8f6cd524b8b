using System.Text;
using Hl7.Fhir.Model;
using Tessera.Demo.Fhir;
using Tessera.Demo.People;
using Tessera.Demo.Randomness;
using Tessera.Demo.Region;
using Person = Tessera.Demo.People.Person;

namespace Tessera.Demo.Clinical;

/// <summary>
/// Writes a person's care history into their bundle, each item referencing the source Patient record of the
/// system that recorded it: the GP's problems, medicines, allergies, consultations and results; the hospital's
/// emergency attendances, admissions with discharge summaries and clinics; the council's social care episodes;
/// end-of-life plans and sharing opt-outs.
/// </summary>
internal sealed class HistoryBuilder(
    DemoRandom rng,
    TransactionBuilder builder,
    Person person,
    RegionDirectory region,
    DateOnly referenceDate,
    SourcePatient? gp,
    SourcePatient? hospital,
    SourcePatient? socialCare)
{
    private static readonly (string Code, string Display)[] Presentations =
    [
        ("29857009", "Chest pain"), ("267036007", "Dyspnea"), ("21522001", "Abdominal pain"), ("125605004", "Fracture of bone"),
        ("217082002", "Accidental fall"), ("386661006", "Fever"), ("25064002", "Headache"), ("422587007", "Nausea"),
    ];

    private readonly Dictionary<string, string> _conditionIds = [];
    private readonly decimal _heightCm = (decimal)Math.Round(person.Male ? rng.Normal(176, 7) : rng.Normal(163, 6.5), 1);
    private readonly double _bmi = Math.Clamp(rng.Normal(27.3, 5) + (person.Has("diabetes") ? 3 : 0), 16, 52);

    /// <summary>The record that owns primary-care facts: the GP's, or the hospital's for people with no GP.</summary>
    private SourcePatient Primary => gp ?? hospital ?? socialCare!;

    private DateTimeOffset Now => new(referenceDate.ToDateTime(new TimeOnly(9, 0)), TimeSpan.Zero);

    public void Build(int emergencyAttendances, bool electiveAdmission)
    {
        if (gp is not null || hospital is not null)
        {
            AddProblemsAndMedicines();
            AddAllergy();
            AddGpConsultations();
        }

        if (hospital is not null)
        {
            AddHospitalCare(emergencyAttendances, electiveAdmission);
        }

        if (socialCare is not null)
        {
            AddSocialCare();
        }

        if (gp is not null && NeedsEndOfLifePlan())
        {
            AddEndOfLifePlan();
        }

        if (person.Age >= 16 && rng.Chance(0.03))
        {
            AddSharingOptOut();
        }
    }

    private bool NeedsEndOfLifePlan() =>
        (person.Age >= 75 && (person.Has("dementia") || person.Has("heart-failure") || person.Has("copd")) && rng.Chance(0.3)) ||
        (person.Age >= 90 && rng.Chance(0.1));

    private DateTimeOffset RandomMomentInLast(int days)
    {
        var day = referenceDate.AddDays(-rng.Between(1, days));
        return new DateTimeOffset(day.ToDateTime(new TimeOnly(rng.Between(8, 17), rng.Next(4) * 15)), TimeSpan.Zero);
    }

    private void AddProblemsAndMedicines()
    {
        var recorder = gp is not null ? person.UsualGp : region.Clinics[0].Clinicians[0];
        foreach (var (definition, onset) in person.Conditions)
        {
            var condition = new Condition
            {
                Meta = FhirBuild.Profile(UkCore.Condition),
                ClinicalStatus = FhirBuild.Concept(Systems.ConditionClinical, "active", "Active"),
                VerificationStatus = FhirBuild.Concept(Systems.ConditionVerification, "confirmed", "Confirmed"),
                Category = [FhirBuild.Concept(Systems.ConditionCategory, "problem-list-item", "Problem List Item")],
                Code = FhirBuild.Snomed(definition.Code, definition.Display),
                Subject = Primary.Reference(person.Given + " " + person.Family),
                Onset = new FhirDateTime(FhirBuild.Date(onset)),
                RecordedDate = FhirBuild.Date(onset),
                Recorder = FhirBuild.Ref("Practitioner", recorder.PractitionerId, recorder.Name),
            };
            _conditionIds[definition.Key] = builder.Add(condition);

            if (gp is null)
            {
                continue;
            }

            foreach (var medicine in definition.Medicines)
            {
                AddRepeatMedicine(medicine, onset, definition.Key);
            }
        }
    }

    private void AddRepeatMedicine(Medicine medicine, DateOnly started, string conditionKey)
    {
        var issued = RandomMomentInLast(84);
        var requestId = builder.NewId();
        var request = new MedicationRequest
        {
            Meta = FhirBuild.Profile(UkCore.MedicationRequest),
            Status = MedicationRequest.MedicationrequestStatus.Active,
            Intent = MedicationRequest.MedicationRequestIntent.Order,
            Category = [FhirBuild.Concept("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community", "Community")],
            Medication = FhirBuild.Concept(Systems.Dmd, medicine.Code, medicine.Display),
            Subject = gp!.Reference(person.Given + " " + person.Family),
            AuthoredOn = FhirBuild.DateTime(issued),
            Requester = FhirBuild.Ref("Practitioner", person.UsualGp.PractitionerId, person.UsualGp.Name),
            ReasonReference = [FhirBuild.Urn(_conditionIds[conditionKey])],
            CourseOfTherapyType = FhirBuild.Concept(Systems.CourseOfTherapy, "continuous", "Continuous long term therapy"),
            DosageInstruction = [new Dosage { Text = medicine.Dosage }],
            DispenseRequest = new MedicationRequest.DispenseRequestComponent
            {
                NumberOfRepeatsAllowed = 5,
                ExpectedSupplyDuration = new Duration { Value = 28, Unit = "day", System = Systems.Ucum, Code = "d" },
            },
            Substitution = new MedicationRequest.SubstitutionComponent { Allowed = new FhirBoolean(true) },
        };
        builder.Add(request, requestId);

        builder.Add(new MedicationStatement
        {
            Meta = FhirBuild.Profile(UkCore.MedicationStatement),
            BasedOn = [FhirBuild.Urn(requestId)],
            Status = MedicationStatement.MedicationStatusCodes.Active,
            Medication = FhirBuild.Concept(Systems.Dmd, medicine.Code, medicine.Display),
            Subject = gp.Reference(person.Given + " " + person.Family),
            Effective = new Period { Start = FhirBuild.Date(started) },
            DateAsserted = FhirBuild.DateTime(issued),
            InformationSource = FhirBuild.Ref("Organization", person.Practice.OrganisationId, person.Practice.Name),
            ReasonReference = [FhirBuild.Urn(_conditionIds[conditionKey])],
            Dosage = [new Dosage { Text = medicine.Dosage }],
        });
    }

    private void AddAllergy()
    {
        if (person.Allergy is not { } allergy)
        {
            return;
        }

        builder.Add(new AllergyIntolerance
        {
            Meta = FhirBuild.Profile(UkCore.AllergyIntolerance),
            ClinicalStatus = FhirBuild.Concept(Systems.AllergyClinical, "active", "Active"),
            VerificationStatus = FhirBuild.Concept(Systems.AllergyVerification, "confirmed", "Confirmed"),
            Type = AllergyIntolerance.AllergyIntoleranceType.Allergy,
            Category = [Enum.Parse<AllergyIntolerance.AllergyIntoleranceCategory>(allergy.Category, ignoreCase: true)],
            Criticality = AllergyIntolerance.AllergyIntoleranceCriticality.Low,
            Code = FhirBuild.Snomed(allergy.Code, allergy.Display),
            Patient = Primary.Reference(person.Given + " " + person.Family),
            RecordedDate = FhirBuild.Date(person.BirthDate.AddYears(Math.Min(person.Age, rng.Between(2, 40)))),
            Recorder = FhirBuild.Ref("Practitioner", person.UsualGp.PractitionerId, person.UsualGp.Name),
        });
    }

    private void AddGpConsultations()
    {
        if (gp is null)
        {
            return;
        }

        var count = Math.Min(20, rng.Poisson(0.8 + person.Age / 25.0 + 0.9 * person.Conditions.Count));
        var hadHbA1c = false;
        var hadEgfr = false;
        for (var i = 0; i < count; i++)
        {
            var start = RandomMomentInLast(730);
            var clinician = rng.Chance(0.75) || person.Practice.Nurses.Count == 0 ? rng.Pick(person.Practice.Gps) : rng.Pick(person.Practice.Nurses);
            var draw = rng.NextDouble();
            var (typeCode, typeDisplay) = draw < 0.35 ? ("185317003", "Telephone encounter")
                : draw < 0.95 || person.Age < 80 ? ("11429006", "Consultation")
                : ("439708006", "Home visit");
            var encounter = NewEncounter("AMB", "ambulatory", typeCode, typeDisplay, gp, clinician, start, start.AddMinutes(10), person.Practice.OrganisationId, person.Practice.Surgery.LocationId);
            var problem = person.Conditions.Count > 0 && rng.Chance(0.6) ? rng.Pick(person.Conditions) : default;
            if (problem.Definition is not null)
            {
                encounter.ReasonReference = [FhirBuild.Urn(_conditionIds[problem.Definition.Key])];
            }

            var encounterId = builder.Add(encounter);
            if (typeCode == "185317003")
            {
                continue;
            }

            if (person.Age >= 16 && rng.Chance(0.55))
            {
                AddBloodPressure(gp, encounterId, start, clinician);
                AddHeartRate(gp, encounterId, start, clinician);
            }

            if (person.Age >= 18 && rng.Chance(0.25))
            {
                AddWeightAndBmi(gp, encounterId, start, clinician);
            }

            if (person.Has("diabetes") && !hadHbA1c)
            {
                hadHbA1c = true;
                AddLab(gp, encounterId, start, "59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", Math.Round((decimal)Math.Clamp(rng.Normal(58, 10), 38, 120)), "mmol/mol", "mmol/mol");
            }

            if ((person.Has("ckd") || person.Has("diabetes") || person.Has("hypertension")) && !hadEgfr)
            {
                hadEgfr = true;
                var egfr = person.Has("ckd") ? rng.Normal(45, 9) : rng.Normal(95 - 0.6 * Math.Max(0, person.Age - 30), 10);
                AddLab(gp, encounterId, start, "62238-1", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)", Math.Round((decimal)Math.Clamp(egfr, 8, 120)), "mL/min/1.73m2", "mL/min/{1.73_m2}");
            }

            if (rng.Chance(0.08))
            {
                AddAntibiotic(encounterId, start, clinician);
            }
        }
    }

    private void AddAntibiotic(string encounterId, DateTimeOffset when, Staff clinician)
    {
        // Penicillin-allergic people are given clarithromycin, as a prescriber's allergy check would insist.
        var medicine = person.Allergy?.Code == "91936005"
            ? new Medicine("41946511000001109", "Clarithromycin 500mg tablets", "One tablet twice a day for 5 days")
            : Catalogue.Amoxicillin;
        builder.Add(new MedicationRequest
        {
            Meta = FhirBuild.Profile(UkCore.MedicationRequest),
            Status = MedicationRequest.MedicationrequestStatus.Completed,
            Intent = MedicationRequest.MedicationRequestIntent.Order,
            Medication = FhirBuild.Concept(Systems.Dmd, medicine.Code, medicine.Display),
            Subject = gp!.Reference(person.Given + " " + person.Family),
            Encounter = FhirBuild.Urn(encounterId),
            AuthoredOn = FhirBuild.DateTime(when),
            Requester = FhirBuild.Ref("Practitioner", clinician.PractitionerId, clinician.Name),
            CourseOfTherapyType = FhirBuild.Concept(Systems.CourseOfTherapy, "acute", "Short course (acute) therapy"),
            DosageInstruction = [new Dosage { Text = medicine.Dosage }],
            Substitution = new MedicationRequest.SubstitutionComponent { Allowed = new FhirBoolean(true) },
        });
    }

    private void AddHospitalCare(int emergencyAttendances, bool electiveAdmission)
    {
        for (var i = 0; i < emergencyAttendances; i++)
        {
            var arrival = RandomMomentInLast(730);
            var doctor = rng.Pick(region.EmergencyDoctors);
            var presentation = rng.Pick(Presentations);
            var attendance = NewEncounter("EMER", "emergency", "4525004", "Emergency department patient visit", hospital!, doctor, arrival, arrival.AddMinutes(rng.Between(60, 420)), RegionDirectory.AcuteTrustId, region.EmergencyDepartment.LocationId);
            attendance.ReasonCode = [FhirBuild.Snomed(presentation.Code, presentation.Display)];
            var attendanceId = builder.Add(attendance);
            AddHeartRate(hospital!, attendanceId, arrival, doctor);
            if (person.Age >= 16)
            {
                AddBloodPressure(hospital!, attendanceId, arrival, doctor);
            }

            var admitChance = 0.12 + (person.Age >= 75 ? 0.25 : 0) + 0.03 * person.Conditions.Count;
            if (rng.Chance(admitChance))
            {
                AddAdmission(arrival.AddMinutes(rng.Between(240, 600)), emergency: true, presentation);
            }
        }

        if (electiveAdmission)
        {
            AddAdmission(RandomMomentInLast(700), emergency: false, null);
        }

        foreach (var (definition, _) in person.Conditions)
        {
            if (rng.Chance(0.2))
            {
                var clinic = region.Clinics.First(c => c.Site.LocationId.EndsWith(definition.Specialty, StringComparison.Ordinal));
                var start = RandomMomentInLast(730);
                var consultant = rng.Pick(clinic.Clinicians);
                var visit = NewEncounter("AMB", "ambulatory", "185389009", "Follow-up visit", hospital!, consultant, start, start.AddMinutes(20), RegionDirectory.AcuteTrustId, clinic.Site.LocationId);
                visit.ReasonReference = [FhirBuild.Urn(_conditionIds[definition.Key])];
                builder.Add(visit);
            }
        }
    }

    private void AddAdmission(DateTimeOffset admitted, bool emergency, (string Code, string Display)? presentation)
    {
        var main = person.Conditions.Count > 0 ? rng.Pick(person.Conditions).Definition : null;
        var specialty = main?.Specialty ?? (person.Age >= 75 ? "elderly" : person.Age < 16 ? "paediatrics" : "medicine");
        var ward = region.Wards[Math.Max(0, region.Clinics.ToList().FindIndex(c => c.Site.LocationId.EndsWith(specialty, StringComparison.Ordinal)))];
        var consultant = rng.Pick(ward.Clinicians);
        var lengthOfStay = Math.Min(30, 1 + rng.Poisson(person.Age >= 75 ? 6 : 2.5));
        var discharged = admitted.AddDays(lengthOfStay).Date.AddHours(rng.Between(10, 18));
        var dischargedAt = new DateTimeOffset(discharged, TimeSpan.Zero);
        if (dischargedAt > Now)
        {
            dischargedAt = Now.AddHours(-2);
        }

        var toCareHome = person.Age >= 80 && rng.Chance(0.08);
        var stay = NewEncounter("IMP", "inpatient encounter", "185212007", "Seen in hospital ward", hospital!, consultant, admitted, dischargedAt, RegionDirectory.AcuteTrustId, ward.Site.LocationId);
        stay.Extension.Add(new Extension(UkCore.DischargeMethodExtension, FhirBuild.Concept(Systems.DischargeMethod, "1", "Patient discharged on clinical advice or with clinical consent")));
        stay.Hospitalization = new Encounter.HospitalizationComponent
        {
            DischargeDisposition = toCareHome
                ? FhirBuild.Concept(Systems.DischargeDestination, "65", "Local Authority residential accommodation i.e. where care is provided")
                : FhirBuild.Concept(Systems.DischargeDestination, "19", "Usual place of residence unless listed below, for example, a private dwelling whether owner occupied or owned by Local Authority, housing association or other landlord. This includes wardened accommodation but not residential accommodation where health care is provided. It also includes patients with no fixed abode."),
        };
        stay.Hospitalization.Extension.Add(new Extension(
            UkCore.AdmissionMethodExtension,
            emergency
                ? FhirBuild.Concept(Systems.AdmissionMethod, "21", "Emergency Admission: Emergency Care Department or dental casualty department of the Health Care Provider")
                : FhirBuild.Concept(Systems.AdmissionMethod, "11", "Elective Admission: Waiting list")));
        if (main is not null)
        {
            stay.ReasonReference = [FhirBuild.Urn(_conditionIds[main.Key])];
        }
        else if (presentation is { } p)
        {
            stay.ReasonCode = [FhirBuild.Snomed(p.Code, p.Display)];
        }

        var stayId = builder.Add(stay);
        AddDischargeSummary(stayId, ward, consultant, admitted, dischargedAt, emergency, main, presentation, toCareHome);
    }

    private void AddDischargeSummary(string encounterId, Unit ward, Staff consultant, DateTimeOffset admitted, DateTimeOffset discharged, bool emergency, ConditionDefinition? main, (string Code, string Display)? presentation, bool toCareHome)
    {
        var mrn = hospital!.IdentifierValue;
        var text = new StringBuilder()
            .AppendLine("DISCHARGE SUMMARY")
            .AppendLine($"{RegionDirectory.AcuteTrustName} - {ward.Site.Name}")
            .AppendLine()
            .AppendLine($"Patient: {person.Given} {person.Family.ToUpperInvariant()}   Date of birth: {person.BirthDate:dd-MMM-yyyy}   MRN: {mrn}   NHS number: {person.NhsNumber ?? "not recorded"}")
            .AppendLine($"Admitted: {admitted:dd-MMM-yyyy HH:mm} ({(emergency ? "emergency, via the Emergency Department" : "elective, from the waiting list")})")
            .AppendLine($"Discharged: {discharged:dd-MMM-yyyy HH:mm} to {(toCareHome ? "residential care" : "usual place of residence")}")
            .AppendLine()
            .AppendLine($"Presenting complaint: {presentation?.Display ?? "planned admission"}")
            .AppendLine($"Principal diagnosis: {main?.Display ?? presentation?.Display ?? "investigation"}")
            .AppendLine($"Other problems: {string.Join(", ", person.Conditions.Where(c => c.Definition != main).Select(c => c.Definition.Display).DefaultIfEmpty("none recorded"))}")
            .AppendLine($"Allergies: {person.Allergy?.Display ?? "no known drug allergies"}")
            .AppendLine()
            .AppendLine($"Medicines on discharge: {string.Join("; ", person.Conditions.SelectMany(c => c.Definition.Medicines).Distinct().Select(m => $"{m.Display} - {m.Dosage}").DefaultIfEmpty("none"))}")
            .AppendLine("Actions for GP: review in 2 weeks; repeat bloods (U&E) at review.")
            .AppendLine()
            .AppendLine($"Responsible consultant: {consultant.Name}, {ward.SpecialtyDisplay}")
            .ToString();

        builder.Add(new DocumentReference
        {
            Meta = FhirBuild.Profile(UkCore.DocumentReference),
            Status = DocumentReferenceStatus.Current,
            DocStatus = CompositionStatus.Final,
            Type = FhirBuild.Snomed("373942005", "Discharge summary"),
            Category = [FhirBuild.Snomed("823691000000103", "Clinical letter")],
            Subject = hospital.Reference(person.Given + " " + person.Family),
            Date = discharged,
            Author = [FhirBuild.Ref("Practitioner", consultant.PractitionerId, consultant.Name)],
            Custodian = FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, RegionDirectory.AcuteTrustName),
            Description = $"Discharge summary, {ward.Site.Name}",
            Content =
            [
                new DocumentReference.ContentComponent
                {
                    Attachment = new Attachment
                    {
                        ContentType = "text/plain",
                        Language = "en-GB",
                        Data = Encoding.UTF8.GetBytes(text),
                        Title = "Discharge summary",
                        Creation = FhirBuild.DateTime(discharged),
                    },
                },
            ],
            Context = new DocumentReference.ContextComponent
            {
                Encounter = [FhirBuild.Urn(encounterId)],
                Period = new Period { Start = FhirBuild.DateTime(admitted), End = FhirBuild.DateTime(discharged) },
                FacilityType = FhirBuild.Snomed("22232009", "Hospital"),
            },
        });
    }

    private void AddSocialCare()
    {
        var child = person.Age < 18;
        var worker = rng.Pick(child ? region.ChildrenSocialWorkers : region.AdultSocialWorkers);
        var (code, display) = child
            ? ("child-in-need", "Child in need")
            : rng.NextDouble() switch
            {
                < 0.55 => ("long-term-support", "Long-term support (home care)"),
                < 0.75 => ("reablement", "Short-term reablement"),
                < 0.9 => ("residential-care", "Residential care"),
                _ => ("carer-support", "Support for an unpaid carer"),
            };
        var started = referenceDate.AddDays(-rng.Between(30, 2000));
        var finished = !child && code == "reablement" && rng.Chance(0.7);
        builder.Add(new EpisodeOfCare
        {
            Meta = FhirBuild.Profile(UkCore.EpisodeOfCare),
            Identifier = [new Identifier("https://fhir.tessvale.gov.uk/Id/social-care-episode", $"{socialCare!.IdentifierValue}-1")],
            Status = finished ? EpisodeOfCare.EpisodeOfCareStatus.Finished : EpisodeOfCare.EpisodeOfCareStatus.Active,
            Type = [new CodeableConcept("https://fhir.tessvale.gov.uk/CodeSystem/social-care-service", code, display, display)],
            Patient = socialCare.Reference(person.Given + " " + person.Family),
            ManagingOrganization = FhirBuild.Ref("Organization", RegionDirectory.CouncilId, RegionDirectory.CouncilName),
            Period = new Period { Start = FhirBuild.Date(started), End = finished ? FhirBuild.Date(started.AddDays(42)) : null },
            CareManager = FhirBuild.Ref("Practitioner", worker.PractitionerId, worker.Name),
        });
    }

    private void AddEndOfLifePlan()
    {
        var started = RandomMomentInLast(365);
        var flagId = builder.NewId();
        var (placeText, location) = rng.NextDouble() switch
        {
            < 0.5 => ("Home", (Site?)null),
            < 0.75 => ("Hospice", region.HospiceInpatientUnit),
            < 0.92 => ("Care home", null),
            _ => ("Hospital", region.Wards[1].Site),
        };
        var addresses = person.Conditions.Where(c => c.Definition.Key is "dementia" or "heart-failure" or "copd")
            .Select(c => FhirBuild.Urn(_conditionIds[c.Definition.Key])).ToList();

        var plan = new CarePlan
        {
            Meta = FhirBuild.Profile(UkCore.CarePlan),
            Status = RequestStatus.Active,
            Intent = CarePlan.CarePlanIntent.Plan,
            Category = [FhirBuild.Snomed("736373009", "End of life care plan")],
            Title = "End of life care plan",
            Description = $"Anticipatory care planning agreed with the patient and family. Preferred place of care and death: {placeText}. Not for cardiopulmonary resuscitation.",
            Subject = gp!.Reference(person.Given + " " + person.Family),
            Period = new Period { Start = FhirBuild.DateTime(started) },
            Created = FhirBuild.DateTime(started),
            Author = FhirBuild.Ref("Practitioner", person.UsualGp.PractitionerId, person.UsualGp.Name),
            Addresses = addresses,
            SupportingInfo = [FhirBuild.Urn(flagId)],
            Activity =
            [
                new CarePlan.ActivityComponent
                {
                    Detail = new CarePlan.DetailComponent
                    {
                        Status = CarePlan.CarePlanActivityStatus.InProgress,
                        Description = $"Preferred place of care: {placeText}",
                        Location = location is null ? null : FhirBuild.Ref("Location", location.LocationId, location.Name),
                    },
                },
            ],
        };
        builder.Add(plan);

        builder.Add(
            new Flag
            {
                Meta = FhirBuild.Profile(UkCore.Flag),
                Status = Flag.FlagStatus.Active,
                Category = [FhirBuild.Concept(Systems.FlagCategory, "clinical", "Clinical")],
                Code = FhirBuild.Snomed("304253006", "Not for resuscitation"),
                Subject = gp.Reference(person.Given + " " + person.Family),
                Period = new Period { Start = FhirBuild.DateTime(started) },
                Author = FhirBuild.Ref("Practitioner", person.UsualGp.PractitionerId, person.UsualGp.Name),
            },
            flagId);
    }

    private void AddSharingOptOut()
    {
        var when = RandomMomentInLast(1500);
        builder.Add(new Consent
        {
            Meta = FhirBuild.Profile(UkCore.Consent),
            Status = Consent.ConsentState.Active,
            Scope = FhirBuild.Concept(Systems.ConsentScope, "patient-privacy", "Privacy Consent"),
            Category = [FhirBuild.Concept(Systems.ActCode, "INFA", "information access")],
            Patient = Primary.Reference(person.Given + " " + person.Family),
            DateTime = FhirBuild.DateTime(when),
            Performer = [Primary.Reference(person.Given + " " + person.Family)],
            Organization = [FhirBuild.Ref("Organization", person.Practice.OrganisationId, person.Practice.Name)],
            PolicyRule = FhirBuild.Concept(Systems.ActCode, "OPTOUT", "opt-out"),
            Provision = new Consent.provisionComponent
            {
                Type = Consent.ConsentProvisionType.Deny,
                Period = new Period { Start = FhirBuild.DateTime(when) },
                Action = [FhirBuild.Concept("http://terminology.hl7.org/CodeSystem/consentaction", "disclose", "Disclose")],
            },
        });
    }

    private Encounter NewEncounter(string classCode, string classDisplay, string typeCode, string typeDisplay, SourcePatient subject, Staff clinician, DateTimeOffset start, DateTimeOffset end, string providerId, string locationId) =>
        new()
        {
            Meta = FhirBuild.Profile(UkCore.Encounter),
            Status = Encounter.EncounterStatus.Finished,
            Class = new Coding(Systems.ActCode, classCode, classDisplay),
            Type = [FhirBuild.Snomed(typeCode, typeDisplay)],
            Subject = subject.Reference(person.Given + " " + person.Family),
            Participant =
            [
                new Encounter.ParticipantComponent
                {
                    Type = [FhirBuild.Concept(Systems.ParticipationType, "PPRF", "primary performer")],
                    Individual = FhirBuild.Ref("Practitioner", clinician.PractitionerId, clinician.Name),
                },
            ],
            Period = new Period { Start = FhirBuild.DateTime(start), End = FhirBuild.DateTime(end) },
            Location = [new Encounter.LocationComponent { Location = FhirBuild.Ref("Location", locationId) }],
            ServiceProvider = FhirBuild.Ref("Organization", providerId),
        };

    private Observation NewVitalSign(string profile, SourcePatient subject, string encounterId, DateTimeOffset when, Staff performer, string loinc, string loincDisplay, string snomed, string snomedDisplay) =>
        new()
        {
            Meta = FhirBuild.Profile(profile),
            Status = ObservationStatus.Final,
            Category = [FhirBuild.Concept(Systems.ObservationCategory, "vital-signs", "Vital Signs")],
            Code = new CodeableConcept
            {
                Coding = [new Coding(Systems.Loinc, loinc, loincDisplay), new Coding(Systems.Snomed, snomed, snomedDisplay)],
                Text = snomedDisplay,
            },
            Subject = subject.Reference(person.Given + " " + person.Family),
            Encounter = FhirBuild.Urn(encounterId),
            Effective = new FhirDateTime(when),
            Performer = [FhirBuild.Ref("Practitioner", performer.PractitionerId, performer.Name)],
        };

    private void AddBloodPressure(SourcePatient subject, string encounterId, DateTimeOffset when, Staff performer)
    {
        var hypertensive = person.Has("hypertension");
        var systolic = Math.Round(Math.Clamp(rng.Normal(112 + 0.45 * Math.Max(0, person.Age - 16) + (hypertensive ? 12 : 0), 12), 85, 210));
        var diastolic = Math.Round(Math.Clamp(rng.Normal(70 + 0.12 * Math.Max(0, person.Age - 16) + (hypertensive ? 7 : 0), 8), 45, Math.Min(125, systolic - 20)));
        var bp = NewVitalSign(UkCore.BloodPressure, subject, encounterId, when, performer, "85354-9", "Blood pressure panel with all children optional", "75367002", "Blood pressure");
        bp.Component =
        [
            new Observation.ComponentComponent
            {
                Code = new CodeableConcept { Coding = [new Coding(Systems.Loinc, "8480-6", "Systolic blood pressure"), new Coding(Systems.Snomed, "72313002", "Systolic arterial pressure")] },
                Value = FhirBuild.Ucum((decimal)systolic, "millimeter of mercury", "mm[Hg]"),
            },
            new Observation.ComponentComponent
            {
                Code = new CodeableConcept { Coding = [new Coding(Systems.Loinc, "8462-4", "Diastolic blood pressure"), new Coding(Systems.Snomed, "1091811000000102", "Diastolic arterial pressure")] },
                Value = FhirBuild.Ucum((decimal)diastolic, "millimeter of mercury", "mm[Hg]"),
            },
        ];
        builder.Add(bp);
    }

    private void AddHeartRate(SourcePatient subject, string encounterId, DateTimeOffset when, Staff performer)
    {
        var mean = person.Age < 12 ? 95 : person.Has("af") ? 86 : 73;
        var hr = NewVitalSign(UkCore.HeartRate, subject, encounterId, when, performer, "8867-4", "Heart rate", "364075005", "Heart rate");
        hr.Value = FhirBuild.Ucum((decimal)Math.Round(Math.Clamp(rng.Normal(mean, 11), 40, 170)), "per minute", "/min");
        builder.Add(hr);
    }

    private void AddWeightAndBmi(SourcePatient subject, string encounterId, DateTimeOffset when, Staff performer)
    {
        var bmi = Math.Round(_bmi + rng.Normal(0, 0.6), 1);
        var heightM = (double)_heightCm / 100;
        var weight = Math.Round(bmi * heightM * heightM, 1);

        var w = NewVitalSign(UkCore.BodyWeight, subject, encounterId, when, performer, "29463-7", "Body weight", "27113001", "Body weight");
        w.Value = FhirBuild.Ucum((decimal)weight, "kilogram", "kg");
        builder.Add(w);

        var h = NewVitalSign(UkCore.BodyHeight, subject, encounterId, when, performer, "8302-2", "Body height", "50373000", "Body height measure");
        h.Value = FhirBuild.Ucum(_heightCm, "centimeter", "cm");
        builder.Add(h);

        var b = NewVitalSign(UkCore.Bmi, subject, encounterId, when, performer, "39156-5", "Body mass index (BMI) [Ratio]", "60621009", "Body mass index");
        b.Value = FhirBuild.Ucum((decimal)Math.Round(weight / (heightM * heightM), 1), "kilogram / (meter ^ 2)", "kg/m2");
        builder.Add(b);
    }

    private void AddLab(SourcePatient subject, string encounterId, DateTimeOffset when, string loinc, string display, decimal value, string unit, string ucum)
    {
        builder.Add(new Observation
        {
            Meta = FhirBuild.Profile(UkCore.ObservationLab),
            Status = ObservationStatus.Final,
            Category = [FhirBuild.Concept(Systems.ObservationCategory, "laboratory", "Laboratory")],
            Code = FhirBuild.Concept(Systems.Loinc, loinc, display),
            Subject = subject.Reference(person.Given + " " + person.Family),
            Encounter = FhirBuild.Urn(encounterId),
            Effective = new FhirDateTime(when),
            Issued = when.AddDays(2),
            Performer = [FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, "Tessvale Pathology")],
            Value = FhirBuild.Ucum(value, unit, ucum),
        });
    }
}
