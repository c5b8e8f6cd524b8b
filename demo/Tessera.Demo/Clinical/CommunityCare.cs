using Hl7.Fhir.Model;
using Tessera.Demo.Fhir;
using Tessera.Demo.People;
using Tessera.Demo.Region;

namespace Tessera.Demo.Clinical;

/// <summary>Care outside hospital: social care, district nursing, mental health and sexual health services.</summary>
internal sealed partial class HistoryBuilder
{
    /// <summary>
    /// The council's involvement: an episode of care with a social worker as care manager, the assessment and
    /// reviews, a care and support plan and the team around the person; for some children a child protection
    /// plan and for some adults a safeguarding enquiry, both labelled as safeguarding information.
    /// </summary>
    private void AddSocialCare()
    {
        var child = person.Age < 18;
        var worker = rng.Pick(child ? region.ChildrenSocialWorkers : region.AdultSocialWorkers);
        var (code, display) = child
            ? rng.Chance(0.3) ? ("child-protection-plan", "Child protection plan") : ("child-in-need", "Child in need")
            : rng.NextDouble() switch
            {
                < 0.55 => ("long-term-support", "Long-term support (home care)"),
                < 0.75 => ("reablement", "Short-term reablement"),
                < 0.9 => ("residential-care", "Residential care"),
                _ => ("carer-support", "Support for an unpaid carer"),
            };
        var sensitivity = code == "child-protection-plan" ? Sensitivity.Safeguarding : Sensitivity.None;
        var started = referenceDate.AddDays(-rng.Between(30, 2000));
        var finished = !child && code == "reablement" && rng.Chance(0.7);
        var ended = finished ? started.AddDays(42) : (DateOnly?)null;
        var episodeId = AddEpisode(socialCare!, 1, code, display, RegionDirectory.CouncilId, RegionDirectory.CouncilName, worker, started, ended, sensitivity);

        // The assessment, then a review a year (or, on a protection plan, every few months).
        var contacts = 1 + (int)((ended ?? referenceDate).DayNumber - started.DayNumber) / (sensitivity == Sensitivity.Safeguarding ? 90 : 365);
        for (var i = 0; i < Math.Min(contacts, 8); i++)
        {
            var day = started.AddDays(i * (sensitivity == Sensitivity.Safeguarding ? 90 : 365) + rng.Between(0, 14));
            if (day >= referenceDate)
            {
                break;
            }

            var start = new DateTimeOffset(day.ToDateTime(new TimeOnly(rng.Between(9, 16), 0)), TimeSpan.Zero);
            var what = i == 0 ? "Social care assessment" : sensitivity == Sensitivity.Safeguarding ? "Child protection review conference" : "Social care review";
            var visit = NewEncounter("HH", "home health", FhirBuild.Text(what), socialCare!, worker, start, start.AddMinutes(rng.Between(45, 120)), RegionDirectory.CouncilId, null);
            visit.EpisodeOfCare = [FhirBuild.Urn(episodeId)];
            builder.Add(Label(visit, sensitivity));
        }

        var teamId = AddCareTeam(socialCare!, "LA27977-0", "Episode of care-focused care team", $"{display} team", RegionDirectory.CouncilId, RegionDirectory.CouncilName, started, [worker], sensitivity, includeGp: true);
        builder.Add(Label(
            new CarePlan
            {
                Meta = FhirBuild.Profile(UkCore.CarePlan),
                Status = finished ? RequestStatus.Completed : RequestStatus.Active,
                Intent = CarePlan.CarePlanIntent.Plan,
                Category = [FhirBuild.Text(child ? "Children's social care plan" : "Care and support plan")],
                Title = display,
                Subject = socialCare!.Reference(Name),
                Period = new Period { Start = FhirBuild.Date(started), End = ended is { } e ? FhirBuild.Date(e) : null },
                Created = FhirBuild.Date(started),
                Author = Who(worker),
                CareTeam = [FhirBuild.Urn(teamId)],
                SupportingInfo = [FhirBuild.Urn(episodeId)],
                Activity =
                [
                    new CarePlan.ActivityComponent
                    {
                        Detail = new CarePlan.DetailComponent
                        {
                            Status = finished ? CarePlan.CarePlanActivityStatus.Completed : CarePlan.CarePlanActivityStatus.InProgress,
                            Description = code switch
                            {
                                "long-term-support" => "Home care: two visits a day for personal care",
                                "reablement" => "Reablement: daily visits for up to six weeks",
                                "residential-care" => "Placement in a residential care home",
                                "carer-support" => "Carer's assessment and respite through the carers' centre",
                                "child-protection-plan" => "Child protection plan: core group meetings and home visits",
                                _ => "Family support worker and school liaison",
                            },
                            Performer = [code == "carer-support"
                                ? FhirBuild.Ref("Organization", region.VoluntaryServices[0].OrganisationId, region.VoluntaryServices[0].OrganisationName)
                                : FhirBuild.Ref("Organization", RegionDirectory.CouncilId, RegionDirectory.CouncilName)],
                        },
                    },
                ],
            },
            sensitivity));

        if (sensitivity == Sensitivity.Safeguarding)
        {
            AddSafeguardingFlag(socialCare!, worker, started, "Child protection plan in place - contact children's social care before sharing");
        }
        else if (!child && rng.Chance(0.08))
        {
            // An adult safeguarding enquiry (Care Act 2014, section 42), finished within a few weeks.
            var raised = referenceDate.AddDays(-rng.Between(30, 700));
            AddEpisode(socialCare!, 2, "adult-safeguarding-enquiry", "Adult safeguarding enquiry (section 42)", RegionDirectory.CouncilId, RegionDirectory.CouncilName, worker, raised, raised.AddDays(rng.Between(14, 60)), Sensitivity.Safeguarding);
            AddSafeguardingFlag(socialCare!, worker, raised, "Adult safeguarding concern - discuss with the safeguarding team");
        }
    }

    private string AddEpisode(SourcePatient subject, int number, string code, string display, string organisationId, string organisationName, Staff manager, DateOnly started, DateOnly? ended, Sensitivity sensitivity)
    {
        var system = organisationId == RegionDirectory.CouncilId ? "https://fhir.tessvale.gov.uk/CodeSystem/social-care-service" : "https://fhir.tessvale.nhs.uk/CodeSystem/community-service";
        return builder.Add(Label(
            new EpisodeOfCare
            {
                Meta = FhirBuild.Profile(UkCore.EpisodeOfCare),
                Identifier = organisationId == RegionDirectory.CouncilId ? [new Identifier("https://fhir.tessvale.gov.uk/Id/social-care-episode", $"{subject.IdentifierValue}-{number}")] : [],
                Status = ended is { } e && e < referenceDate ? EpisodeOfCare.EpisodeOfCareStatus.Finished : EpisodeOfCare.EpisodeOfCareStatus.Active,
                Type = [new CodeableConcept(system, code, display, display)],
                Patient = subject.Reference(Name),
                ManagingOrganization = FhirBuild.Ref("Organization", organisationId, organisationName),
                Period = new Period { Start = FhirBuild.Date(started), End = ended is { } end && end < referenceDate ? FhirBuild.Date(end) : null },
                CareManager = Who(manager),
            },
            sensitivity));
    }

    private void AddSafeguardingFlag(SourcePatient subject, Staff author, DateOnly from, string text) =>
        builder.Add(Label(
            new Flag
            {
                Meta = FhirBuild.Profile(UkCore.Flag),
                Status = Flag.FlagStatus.Active,
                Category = [FhirBuild.Concept(Systems.FlagCategory, "safety", "Safety")],
                Code = FhirBuild.Text(text),
                Subject = subject.Reference(Name),
                Period = new Period { Start = FhirBuild.Date(from) },
                Author = Who(author),
            },
            Sensitivity.Safeguarding));

    /// <summary>District nursing for housebound older people with heart failure, COPD or dementia: home visits with observations.</summary>
    private void AddCommunityNursing()
    {
        var frail = person.Age >= 75 && (person.Has("heart-failure") || person.Has("copd") || person.Has("dementia") || person.Conditions.Count >= 4);
        if (!frail || !rng.Chance(0.45))
        {
            return;
        }

        var team = region.DistrictNursing;
        var nurse = rng.Pick(team.Staff);
        var started = referenceDate.AddDays(-rng.Between(30, 700));
        var episodeId = AddEpisode(gp!, 1, "district-nursing", "District nursing caseload", team.OrganisationId, team.OrganisationName, nurse, started, null, Sensitivity.None);
        var visits = Math.Min(24, 1 + rng.Poisson(Math.Min(12, (referenceDate.DayNumber - started.DayNumber) / 30.0)));
        for (var i = 0; i < visits; i++)
        {
            var day = started.AddDays(rng.Between(0, referenceDate.DayNumber - started.DayNumber - 1));
            var start = new DateTimeOffset(day.ToDateTime(new TimeOnly(rng.Between(9, 16), 0)), TimeSpan.Zero);
            var visit = NewEncounter("HH", "home health", "439708006", "Home visit", gp!, rng.Pick(team.Staff), start, start.AddMinutes(30), team.OrganisationId, null);
            visit.EpisodeOfCare = [FhirBuild.Urn(episodeId)];
            var visitId = builder.Add(visit);
            AddBloodPressure(gp!, visitId, start, nurse);
            AddHeartRate(gp!, visitId, start, nurse);
        }

        AddCareTeam(gp!, "LA28866-4", "Home & Community Based Services (HCBS)-focused care team", "District nursing team", team.OrganisationId, team.OrganisationName, started, [nurse], Sensitivity.None, includeGp: true);
    }

    /// <summary>
    /// Specialist mental health care, every record of it labelled PSY: the community mental health team for
    /// people with psychosis or bipolar disorder and some with depression or anxiety; the memory service for dementia.
    /// </summary>
    private void AddMentalHealthCare()
    {
        var severe = person.Has("schizophrenia") || person.Has("bipolar");
        var common = person.Has("depression") || person.Has("anxiety");
        if (severe || (common && rng.Chance(0.15)))
        {
            var team = region.CommunityMentalHealth;
            var coordinator = rng.Pick(team.Staff.Skip(1).ToList());
            var started = referenceDate.AddDays(-rng.Between(60, 1500));
            var ended = severe ? (DateOnly?)null : started.AddDays(rng.Between(90, 400));
            var episodeId = AddEpisode(gp!, 1, "community-mental-health", "Community mental health team care", team.OrganisationId, team.OrganisationName, coordinator, started, ended, Sensitivity.MentalHealth);
            var contacts = Math.Min(30, rng.Poisson(severe ? 10 : 5));
            var until = Math.Min((ended ?? referenceDate).DayNumber, referenceDate.DayNumber);
            for (var i = 0; i < contacts; i++)
            {
                var day = DateOnly.FromDayNumber(rng.Between(started.DayNumber, until - 1));
                var start = new DateTimeOffset(day.ToDateTime(new TimeOnly(rng.Between(9, 16), 0)), TimeSpan.Zero);
                var clinician = rng.Chance(0.2) ? team.Staff[0] : coordinator;
                var appointmentId = AddAppointment(gp!, clinician, team.Site.LocationId, start, 45, i == 0 ? "ROUTINE" : "FOLLOWUP", "Community mental health team appointment", Appointment.AppointmentStatus.Fulfilled, Sensitivity.MentalHealth);
                var contact = NewEncounter("AMB", "ambulatory", "11429006", "Consultation", gp!, clinician, start, start.AddMinutes(45), team.OrganisationId, team.Site.LocationId);
                contact.Appointment = [FhirBuild.Urn(appointmentId)];
                contact.EpisodeOfCare = [FhirBuild.Urn(episodeId)];
                contact.ReasonReference = person.Conditions.Where(c => c.Definition.Sensitivity == Sensitivity.MentalHealth).Select(c => FhirBuild.Urn(_conditionIds[c.Definition.Key])).ToList();
                builder.Add(Label(contact, Sensitivity.MentalHealth));
            }

            AddUnkeptAndFutureAppointments(gp!, team.Staff, team.Site.LocationId, ended is null ? contacts : 0, 45, "Community mental health team appointment", Sensitivity.MentalHealth);
            var teamId = AddCareTeam(gp!, "LA27977-0", "Episode of care-focused care team", "Community mental health team", team.OrganisationId, team.OrganisationName, started, [coordinator, team.Staff[0]], Sensitivity.MentalHealth, includeGp: true);
            builder.Add(Label(
                new CarePlan
                {
                    Meta = FhirBuild.Profile(UkCore.CarePlan),
                    Status = ended is null ? RequestStatus.Active : RequestStatus.Completed,
                    Intent = CarePlan.CarePlanIntent.Plan,
                    Category = [FhirBuild.Text("Mental health care plan")],
                    Title = severe ? "Care programme approach care plan" : "Mental health care plan",
                    Subject = gp!.Reference(Name),
                    Period = new Period { Start = FhirBuild.Date(started), End = ended is { } e ? FhirBuild.Date(e) : null },
                    Author = Who(coordinator),
                    CareTeam = [FhirBuild.Urn(teamId)],
                    Addresses = person.Conditions.Where(c => c.Definition.Sensitivity == Sensitivity.MentalHealth).Select(c => FhirBuild.Urn(_conditionIds[c.Definition.Key])).ToList(),
                    Description = "Relapse signature agreed; crisis line number given; care coordinator contact weekly to fortnightly.",
                },
                Sensitivity.MentalHealth));
        }

        if (person.Has("dementia") && rng.Chance(0.6))
        {
            var team = region.MemoryService;
            var onset = person.Conditions.First(c => c.Definition.Key == "dementia").Onset;
            var day = Max(onset, referenceDate.AddDays(-SecondaryCareDays));
            var start = new DateTimeOffset(day.ToDateTime(new TimeOnly(10, 0)), TimeSpan.Zero);
            var assessment = NewEncounter("AMB", "ambulatory", "11429006", "Consultation", gp!, team.Staff[0], start, start.AddMinutes(60), team.OrganisationId, team.Site.LocationId);
            assessment.ReasonReference = [FhirBuild.Urn(_conditionIds["dementia"])];
            assessment.ServiceType = FhirBuild.Text("Memory assessment");
            builder.Add(assessment);
        }
    }

    /// <summary>Visits to the integrated sexual health service, labelled SEX (and STD where an infection is found).</summary>
    private void AddSexualHealth()
    {
        if (person.Age is < 16 or > 45 || !rng.Chance(person.Age < 25 ? 0.14 : 0.05))
        {
            return;
        }

        var team = region.SexualHealth;
        var visits = 1 + rng.Poisson(0.4);
        for (var i = 0; i < visits; i++)
        {
            var start = RandomMomentInLast(SecondaryCareDays);
            var clinician = rng.Pick(team.Staff);
            var appointmentId = AddAppointment(gp!, clinician, team.Site.LocationId, start, 20, "ROUTINE", "Sexual health clinic", Appointment.AppointmentStatus.Fulfilled, Sensitivity.SexualHealth);
            var visit = NewEncounter("AMB", "ambulatory", "11429006", "Consultation", gp!, clinician, start, start.AddMinutes(20), team.OrganisationId, team.Site.LocationId);
            visit.Appointment = [FhirBuild.Urn(appointmentId)];
            visit.ServiceType = FhirBuild.Text(rng.Chance(0.5) ? "Sexually transmitted infection screening" : "Contraception");
            var visitId = builder.Add(Label(visit, Sensitivity.SexualHealth));

            var positive = rng.Chance(0.1) ? rng.Pick(Catalogue.SexuallyTransmittedInfections) : null;
            AddInfectionScreen(visitId, start, clinician, "21613-5", "Chlamydia trachomatis DNA [Presence] in Specimen by NAA with probe detection", positive?.Code == "105629000");
            AddInfectionScreen(visitId, start, clinician, "24111-7", "Neisseria gonorrhoeae DNA [Presence] in Specimen by NAA with probe detection", positive?.Code == "15628003");
            if (positive is not null)
            {
                var problemId = builder.Add(Label(
                    new Condition
                    {
                        Meta = FhirBuild.Profile(UkCore.Condition),
                        ClinicalStatus = FhirBuild.Concept(Systems.ConditionClinical, "resolved", "Resolved"),
                        VerificationStatus = FhirBuild.Concept(Systems.ConditionVerification, "confirmed", "Confirmed"),
                        Category = [FhirBuild.Concept(Systems.ConditionCategory, "encounter-diagnosis", "Encounter Diagnosis")],
                        Code = FhirBuild.Snomed(positive.Code, positive.Display),
                        Subject = gp!.Reference(Name),
                        Encounter = FhirBuild.Urn(visitId),
                        Onset = new FhirDateTime(FhirBuild.DateTime(start)),
                        Abatement = new FhirDateTime(FhirBuild.DateTime(start.AddDays(21))),
                        RecordedDate = FhirBuild.DateTime(start.AddDays(3)),
                        Recorder = Who(clinician),
                    },
                    Sensitivity.SexuallyTransmittedInfection));
                AddAntibiotic(visitId, start.AddDays(3), clinician, problemId, Catalogue.Doxycycline, Sensitivity.SexuallyTransmittedInfection);
            }
        }
    }

    private void AddInfectionScreen(string encounterId, DateTimeOffset sampled, Staff clinician, string loinc, string display, bool detected) =>
        builder.Add(Label(
            new Observation
            {
                Meta = FhirBuild.Profile(UkCore.ObservationLab),
                Status = ObservationStatus.Final,
                Category = [FhirBuild.Concept(Systems.ObservationCategory, "laboratory", "Laboratory")],
                Code = FhirBuild.Concept(Systems.Loinc, loinc, display),
                Subject = gp!.Reference(Name),
                Encounter = FhirBuild.Urn(encounterId),
                Effective = new FhirDateTime(sampled),
                Issued = sampled.AddDays(3),
                Performer = [FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, "Tessvale Pathology"), Who(clinician)],
                Value = detected ? FhirBuild.Snomed("260373001", "Detected") : FhirBuild.Snomed("260415000", "Not detected"),
                Interpretation = [detected ? FhirBuild.Concept(Systems.ObservationInterpretation, "POS", "Positive") : FhirBuild.Concept(Systems.ObservationInterpretation, "NEG", "Negative")],
            },
            detected ? Sensitivity.SexuallyTransmittedInfection : Sensitivity.SexualHealth));
}
