using Hl7.Fhir.Model;
using Tessera.Demo.Fhir;
using Tessera.Demo.People;
using Tessera.Demo.Randomness;
using Tessera.Demo.Region;

namespace Tessera.Demo.Clinical;

/// <summary>What the GP system records: problems, repeat and acute prescribing, consultations, reviews and vaccinations.</summary>
internal sealed partial class HistoryBuilder
{
    private static readonly WeightedTable<EpisodicProblem>[] EpisodicByAge = Enumerable.Range(0, 121)
        .Select(age => new WeightedTable<EpisodicProblem>(Catalogue.EpisodicProblems.Select(p => (p, age >= p.MinAge && age <= p.MaxAge ? p.Weight : 0))))
        .ToArray();

    /// <summary>Conditions reviewed yearly in general practice (QOF registers).</summary>
    private static readonly HashSet<string> ReviewedConditions =
        ["hypertension", "diabetes", "asthma", "copd", "af", "heart-failure", "chd", "stroke", "dementia", "depression", "ckd", "hypothyroidism", "schizophrenia", "bipolar"];

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
                Subject = Primary.Reference(Name),
                Onset = new FhirDateTime(FhirBuild.Date(onset)),
                RecordedDate = FhirBuild.Date(onset),
                Recorder = Who(recorder),
            };
            _conditionIds[definition.Key] = builder.Add(Label(condition, definition.Sensitivity));

            if (gp is null)
            {
                continue;
            }

            foreach (var medicine in definition.Medicines)
            {
                AddRepeatMedicine(medicine, onset, definition);
            }
        }
    }

    /// <summary>
    /// A repeat medicine as GP systems hold it: the authorisation (MedicationRequest, intent plan), each issue
    /// since (intent order, based on the authorisation) and the patient's medication list entry (MedicationStatement).
    /// </summary>
    private void AddRepeatMedicine(Medicine medicine, DateOnly started, ConditionDefinition condition)
    {
        var sensitivity = condition.Sensitivity;
        var reason = FhirBuild.Urn(_conditionIds[condition.Key]);
        var authorised = new DateTimeOffset(Max(started, referenceDate.AddDays(-PrimaryCareDays)).ToDateTime(new TimeOnly(10, 0)), TimeSpan.Zero);
        var interval = rng.Chance(0.7) ? 28 : 56;
        var planId = builder.Add(Label(RepeatRequest(medicine, authorised, reason, interval, MedicationRequest.MedicationRequestIntent.Plan, MedicationRequest.MedicationrequestStatus.Active), sensitivity));

        // Issues over the last six months (or since the authorisation), each to the person's usual pharmacy.
        var pharmacy = region.Pharmacies[person.Index % region.Pharmacies.Count];
        var firstIssue = authorised > Now.AddDays(-182) ? authorised : Now.AddDays(-182 + rng.Next(interval));
        DateTimeOffset? lastIssue = null;
        for (var issued = firstIssue; issued < Now; issued = issued.AddDays(interval))
        {
            lastIssue = issued;
            var status = issued.AddDays(interval) < Now ? MedicationRequest.MedicationrequestStatus.Completed : MedicationRequest.MedicationrequestStatus.Active;
            var issue = RepeatRequest(medicine, issued, reason, interval, MedicationRequest.MedicationRequestIntent.Order, status);
            issue.BasedOn = [FhirBuild.Urn(planId)];
            issue.DispenseRequest!.NumberOfRepeatsAllowed = null;
            issue.DispenseRequest.Performer = FhirBuild.Ref("Organization", pharmacy.OrganisationId, pharmacy.OrganisationName);
            builder.Add(Label(issue, sensitivity));
        }

        builder.Add(Label(
            new MedicationStatement
            {
                Meta = FhirBuild.Profile(UkCore.MedicationStatement),
                BasedOn = [FhirBuild.Urn(planId)],
                Status = MedicationStatement.MedicationStatusCodes.Active,
                Medication = FhirBuild.Concept(Systems.Dmd, medicine.Code, medicine.Display),
                Subject = gp!.Reference(Name),
                Effective = new Period { Start = FhirBuild.Date(started) },
                DateAsserted = FhirBuild.DateTime(lastIssue ?? authorised),
                InformationSource = FhirBuild.Ref("Organization", person.Practice.OrganisationId, person.Practice.Name),
                ReasonReference = [reason],
                Dosage = [new Dosage { Text = medicine.Dosage }],
            },
            sensitivity));
    }

    /// <summary>A repeat prescription as the GP system writes both the authorisation and each issue of it.</summary>
    private MedicationRequest RepeatRequest(Medicine medicine, DateTimeOffset authored, ResourceReference reason, int interval, MedicationRequest.MedicationRequestIntent intent, MedicationRequest.MedicationrequestStatus status) =>
        new()
        {
            Meta = FhirBuild.Profile(UkCore.MedicationRequest),
            Status = status,
            Intent = intent,
            Category = [FhirBuild.Concept("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community", "Community")],
            Medication = FhirBuild.Concept(Systems.Dmd, medicine.Code, medicine.Display),
            Subject = gp!.Reference(Name),
            AuthoredOn = FhirBuild.DateTime(authored),
            Requester = Who(person.UsualGp),
            ReasonReference = [reason],
            CourseOfTherapyType = FhirBuild.Concept(Systems.CourseOfTherapy, "continuous", "Continuous long term therapy"),
            DosageInstruction = [new Dosage { Text = medicine.Dosage }],
            DispenseRequest = new MedicationRequest.DispenseRequestComponent
            {
                NumberOfRepeatsAllowed = 12,
                ExpectedSupplyDuration = new Duration { Value = interval, Unit = "day", System = Systems.Ucum, Code = "d" },
            },
            Substitution = new MedicationRequest.SubstitutionComponent { Allowed = new FhirBoolean(true) },
        };

    private static DateOnly Max(DateOnly a, DateOnly b) => a > b ? a : b;

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
            Patient = Primary.Reference(Name),
            RecordedDate = FhirBuild.Date(person.BirthDate.AddYears(Math.Min(person.Age, rng.Between(2, 40)))),
            Recorder = Who(person.UsualGp),
        });
    }

    /// <summary>
    /// Consultations over three years at England's rates (about five a year on average, more for the very young,
    /// the old and people with long-term conditions): booked appointments, telephone and face-to-face contacts and
    /// home visits, each for a long-term condition or a self-limiting problem, with the measurements taken.
    /// </summary>
    private void AddGpConsultations()
    {
        var perYear = person.Age switch
        {
            < 5 => 4.5,
            < 16 => 1.8,
            < 45 => person.Male ? 1.8 : 3.2,
            < 65 => 3.2,
            < 75 => 4.5,
            _ => 6.0,
        } + 0.9 * person.Conditions.Count;
        var count = Math.Min(90, rng.Poisson(perYear * PrimaryCareDays / 365.0));
        var practice = person.Practice;
        for (var i = 0; i < count; i++)
        {
            var start = RandomMomentInLast(PrimaryCareDays);
            var byNurse = rng.Chance(0.25) && practice.Nurses.Count > 0;
            var clinician = byNurse ? rng.Pick(practice.Nurses) : rng.Chance(0.6) ? person.UsualGp : rng.Pick(practice.Gps);
            var draw = rng.NextDouble();
            var (typeCode, typeDisplay) = draw < 0.3 ? ("185317003", "Telephone encounter")
                : draw < 0.96 || person.Age < 80 ? ("11429006", "Consultation")
                : ("439708006", "Home visit");
            var longTerm = person.Conditions.Count > 0 && rng.Chance(0.5) ? rng.Pick(person.Conditions).Definition : null;
            var episodic = longTerm is null ? EpisodicByAge[Math.Min(person.Age, 120)].Sample(rng.NextDouble()) : null;
            var sensitivity = longTerm?.Sensitivity ?? Sensitivity.None;

            var appointmentId = AddAppointment(gp!, clinician, practice.Surgery.LocationId, start, 10, "ROUTINE", typeDisplay, Appointment.AppointmentStatus.Fulfilled, sensitivity);
            var encounter = NewEncounter(typeCode == "439708006" ? "HH" : "AMB", typeCode == "439708006" ? "home health" : "ambulatory", typeCode, typeDisplay, gp!, clinician, start, start.AddMinutes(10), practice.OrganisationId, practice.Surgery.LocationId);
            encounter.Appointment = [FhirBuild.Urn(appointmentId)];
            string? problemId = null;
            if (longTerm is not null)
            {
                encounter.ReasonReference = [FhirBuild.Urn(_conditionIds[longTerm.Key])];
            }
            else if (episodic is not null)
            {
                // Most self-limiting problems are coded as a problem that is resolved; the rest only as the reason.
                if (rng.Chance(0.6))
                {
                    problemId = AddEpisodicProblem(episodic, start, clinician);
                    encounter.ReasonReference = [FhirBuild.Urn(problemId)];
                }
                else
                {
                    encounter.ReasonCode = [FhirBuild.Snomed(episodic.Code, episodic.Display)];
                }
            }

            var encounterId = builder.Add(Label(encounter, sensitivity));
            if (typeCode == "185317003")
            {
                continue;
            }

            if (episodic is not null && (episodic.Antibiotic || rng.Chance(0.3)))
            {
                AddAcuteObservations(gp!, encounterId, start, clinician, unwell: true, news2: false);
            }
            else if (person.Age >= 16 && rng.Chance(0.55))
            {
                AddBloodPressure(gp!, encounterId, start, clinician);
                AddHeartRate(gp!, encounterId, start, clinician);
            }

            if (person.Age >= 18 && rng.Chance(0.15))
            {
                AddWeightAndBmi(gp!, encounterId, start, clinician);
            }

            if (episodic is not null && (episodic.Antibiotic ? rng.Chance(0.7) : episodic.Code == "54150009" && rng.Chance(0.1)))
            {
                AddAntibiotic(encounterId, start, clinician, problemId, episodic.Code == "68566005" ? Catalogue.Ciprofloxacin : null);
            }
        }

        AddUnkeptAndFutureAppointments(gp!, practice.Gps, practice.Surgery.LocationId, count, 10, "Consultation");
    }

    private string AddEpisodicProblem(EpisodicProblem problem, DateTimeOffset when, Staff clinician)
    {
        var onset = DateOnly.FromDateTime(when.Date).AddDays(-rng.Between(0, 5));
        var resolved = onset.AddDays(rng.Between(7, 42));
        return builder.Add(new Condition
        {
            Meta = FhirBuild.Profile(UkCore.Condition),
            ClinicalStatus = resolved < referenceDate
                ? FhirBuild.Concept(Systems.ConditionClinical, "resolved", "Resolved")
                : FhirBuild.Concept(Systems.ConditionClinical, "active", "Active"),
            VerificationStatus = FhirBuild.Concept(Systems.ConditionVerification, "confirmed", "Confirmed"),
            Category = [FhirBuild.Concept(Systems.ConditionCategory, "encounter-diagnosis", "Encounter Diagnosis")],
            Code = FhirBuild.Snomed(problem.Code, problem.Display),
            Subject = gp!.Reference(Name),
            Onset = new FhirDateTime(FhirBuild.Date(onset)),
            Abatement = resolved < referenceDate ? new FhirDateTime(FhirBuild.Date(resolved)) : null,
            RecordedDate = FhirBuild.DateTime(when),
            Recorder = Who(clinician),
        });
    }

    private void AddAntibiotic(string encounterId, DateTimeOffset when, Staff clinician, string? problemId, Medicine? preferred, Sensitivity sensitivity = Sensitivity.None)
    {
        // Penicillin-allergic people are given clarithromycin, as a prescriber's allergy check would insist.
        var medicine = preferred ?? (person.Allergy?.Code == "91936005" ? Catalogue.Clarithromycin : Catalogue.Amoxicillin);
        builder.Add(Label(
            new MedicationRequest
            {
                Meta = FhirBuild.Profile(UkCore.MedicationRequest),
                Status = MedicationRequest.MedicationrequestStatus.Completed,
                Intent = MedicationRequest.MedicationRequestIntent.Order,
                Medication = FhirBuild.Concept(Systems.Dmd, medicine.Code, medicine.Display),
                Subject = Primary.Reference(Name),
                Encounter = FhirBuild.Urn(encounterId),
                AuthoredOn = FhirBuild.DateTime(when),
                Requester = Who(clinician),
                ReasonReference = problemId is null ? [] : [FhirBuild.Urn(problemId)],
                CourseOfTherapyType = FhirBuild.Concept(Systems.CourseOfTherapy, "acute", "Short course (acute) therapy"),
                DosageInstruction = [new Dosage { Text = medicine.Dosage }],
                Substitution = new MedicationRequest.SubstitutionComponent { Allowed = new FhirBoolean(true) },
            },
            sensitivity));
    }

    /// <summary>
    /// The yearly review of each long-term condition, by a practice nurse, with the blood tests the condition's
    /// QOF indicators ask for; adults without one have an NHS Health Check or an occasional blood test.
    /// </summary>
    private void AddLongTermConditionReviews()
    {
        var reviewed = person.Conditions.Where(c => ReviewedConditions.Contains(c.Definition.Key)).ToList();
        var nurse = person.Practice.Nurses.Count > 0 ? rng.Pick(person.Practice.Nurses) : person.UsualGp;
        for (var year = 0; year < 3; year++)
        {
            var due = reviewed.Where(c => c.Onset < referenceDate.AddDays(-365 * year - 30)).ToList();
            var healthCheck = due.Count == 0 && person.Age is >= 40 and < 75 && rng.Chance(0.07);
            var routineBloods = due.Count == 0 && !healthCheck && person.Age >= 18 && rng.Chance(0.12);
            if (due.Count == 0 && !healthCheck && !routineBloods)
            {
                continue;
            }

            if (due.Count > 0 && !rng.Chance(0.85))
            {
                continue; // some reviews are missed
            }

            var when = referenceDate.AddDays(-365 * year - rng.Between(1, 360));
            var start = new DateTimeOffset(when.ToDateTime(new TimeOnly(rng.Between(8, 16), rng.Next(4) * 15)), TimeSpan.Zero);
            var description = due.Count > 0 ? "Long-term condition review" : healthCheck ? "NHS Health Check" : "Blood test";
            var appointmentId = AddAppointment(gp!, nurse, person.Practice.Surgery.LocationId, start, 20, "CHECKUP", description, Appointment.AppointmentStatus.Fulfilled);
            var encounter = NewEncounter("AMB", "ambulatory", "11429006", "Consultation", gp!, nurse, start, start.AddMinutes(20), person.Practice.OrganisationId, person.Practice.Surgery.LocationId);
            encounter.Appointment = [FhirBuild.Urn(appointmentId)];
            encounter.ReasonReference = due.Select(c => FhirBuild.Urn(_conditionIds[c.Definition.Key])).ToList();
            var sensitivity = due.Select(c => c.Definition.Sensitivity).FirstOrDefault(s => s != Sensitivity.None);
            var encounterId = builder.Add(Label(encounter, sensitivity));

            if (person.Age >= 16)
            {
                AddBloodPressure(gp!, encounterId, start, nurse);
                AddHeartRate(gp!, encounterId, start, nurse);
            }

            if (person.Age >= 18 && (healthCheck || rng.Chance(0.6)))
            {
                AddWeightAndBmi(gp!, encounterId, start, nurse);
            }

            var has = (string key) => due.Exists(c => c.Definition.Key == key);
            var renal = has("hypertension") || has("diabetes") || has("ckd") || has("heart-failure") || has("af") || routineBloods;
            if (renal)
            {
                AddLabPanel(gp!, encounterId, start, person.UsualGp, Laboratory.RenalFunction);
            }

            if (has("ckd") || has("heart-failure") || has("af") || routineBloods || rng.Chance(0.2 * due.Count))
            {
                AddLabPanel(gp!, encounterId, start, person.UsualGp, Laboratory.FullBloodCount);
            }

            if (has("diabetes") || has("chd") || has("stroke") || healthCheck || (has("hypertension") && rng.Chance(0.5)))
            {
                AddLabPanel(gp!, encounterId, start, person.UsualGp, Laboratory.Lipids);
            }

            if (has("diabetes") || healthCheck)
            {
                AddLabPanel(gp!, encounterId, start, person.UsualGp, Laboratory.Diabetes);
            }

            if (has("hypothyroidism"))
            {
                AddLabPanel(gp!, encounterId, start, person.UsualGp, Laboratory.Thyroid);
            }

            if (routineBloods || has("schizophrenia") || has("bipolar") || (has("diabetes") && rng.Chance(0.5)))
            {
                AddLabPanel(gp!, encounterId, start, person.UsualGp, Laboratory.LiverFunction);
            }
        }
    }

    /// <summary>Seasonal flu vaccination for everyone 65 and over and for younger people in an at-risk group.</summary>
    private void AddFluVaccinations()
    {
        var atRisk = person.Conditions.Exists(c => Catalogue.FluAtRisk.Contains(c.Definition.Key));
        if (person.Age < 65 && !atRisk)
        {
            return;
        }

        var uptake = person.Age >= 65 ? 0.78 : 0.5;
        var vaccinator = person.Practice.Nurses.Count > 0 ? rng.Pick(person.Practice.Nurses) : person.UsualGp;
        for (var season = 0; season < 3; season++)
        {
            if (!rng.Chance(uptake))
            {
                continue;
            }

            var day = new DateOnly(referenceDate.Year - 1 - season, 9, 20).AddDays(rng.Between(0, 80));
            builder.Add(new Immunization
            {
                Meta = FhirBuild.Profile(UkCore.Immunization),
                Status = Immunization.ImmunizationStatusCodes.Completed,
                VaccineCode = FhirBuild.Concept(Systems.Dmd, Catalogue.FluVaccine.Code, Catalogue.FluVaccine.Display),
                Patient = gp!.Reference(Name),
                Occurrence = new FhirDateTime(FhirBuild.Date(day)),
                Recorded = FhirBuild.Date(day),
                PrimarySource = true,
                Location = FhirBuild.Ref("Location", person.Practice.Surgery.LocationId, person.Practice.Surgery.Name),
                LotNumber = $"FLU{referenceDate.Year - 1 - season}{rng.Between(100, 999)}",
                Site = FhirBuild.Snomed("368208006", "Left upper arm structure"),
                Route = FhirBuild.Snomed("78421000", "Intramuscular route"),
                DoseQuantity = FhirBuild.Ucum(0.5m, "milliliter", "mL"),
                Performer = [new Immunization.PerformerComponent { Actor = Who(vaccinator) }],
            });
        }
    }
}
