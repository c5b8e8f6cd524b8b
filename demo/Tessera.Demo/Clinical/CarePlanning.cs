using Hl7.Fhir.Model;
using Tessera.Demo.Fhir;
using Tessera.Demo.People;
using Tessera.Demo.Region;

namespace Tessera.Demo.Clinical;

/// <summary>Care teams, end-of-life plans and the person's decisions about sharing their record.</summary>
internal sealed partial class HistoryBuilder
{
    /// <summary>
    /// A care team (UK Core CareTeam, category from FHIR's LOINC care-team-category answers) naming each member
    /// with their SNOMED CT occupation and, when asked, the person's usual GP.
    /// </summary>
    private string AddCareTeam(SourcePatient subject, string categoryCode, string categoryDisplay, string name, string organisationId, string organisationName, DateOnly started, IReadOnlyList<Staff> members, Sensitivity sensitivity, bool includeGp)
    {
        var all = members.ToList();
        if (includeGp && gp is not null && !all.Contains(person.UsualGp))
        {
            all.Add(person.UsualGp);
        }

        return builder.Add(Label(
            new CareTeam
            {
                Meta = FhirBuild.Profile(UkCore.CareTeam),
                Status = CareTeam.CareTeamStatus.Active,
                Category = [FhirBuild.Concept(Systems.CareTeamCategory, categoryCode, categoryDisplay)],
                Name = name,
                Subject = subject.Reference(Name),
                Period = new Period { Start = FhirBuild.Date(started) },
                Participant = all.Select(m => new CareTeam.ParticipantComponent
                {
                    Member = Who(m),
                    OnBehalfOf = FhirBuild.Ref("Organization", m.OrganisationId),
                    Period = new Period { Start = FhirBuild.Date(started) },
                }).ToList(),
                ManagingOrganization = [FhirBuild.Ref("Organization", organisationId, organisationName)],
            },
            sensitivity));
    }

    /// <summary>The practice team that looks after someone with two or more long-term conditions.</summary>
    private void AddLongTermConditionsTeam()
    {
        if (person.Conditions.Count < 2)
        {
            return;
        }

        var members = new List<Staff> { person.UsualGp };
        if (person.Practice.Nurses.Count > 0)
        {
            members.Add(rng.Pick(person.Practice.Nurses));
        }

        var since = Max(person.Conditions.Select(c => c.Onset).Order().Skip(1).First(), referenceDate.AddDays(-PrimaryCareDays));
        AddCareTeam(gp!, "LA28865-6", "Longitudinal care-coordination focused care team", "Long-term conditions team", person.Practice.OrganisationId, person.Practice.Name, since, members, Sensitivity.None, includeGp: false);
    }

    private bool NeedsEndOfLifePlan() =>
        (person.Age >= 75 && (person.Has("dementia") || person.Has("heart-failure") || person.Has("copd")) && rng.Chance(0.3)) ||
        (person.Age >= 90 && rng.Chance(0.1));

    /// <summary>
    /// An end-of-life care plan stating the preferred place of care, a DNACPR decision as a flag, and the
    /// multidisciplinary team (GP, district nurse, hospice nurse) that carries it out.
    /// </summary>
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
        var teamId = AddCareTeam(
            gp!,
            "LA28865-6",
            "Longitudinal care-coordination focused care team",
            "Palliative care team",
            person.Practice.OrganisationId,
            person.Practice.Name,
            DateOnly.FromDateTime(started.Date),
            [person.UsualGp, rng.Pick(region.DistrictNursing.Staff), rng.Pick(region.HospiceStaff)],
            Sensitivity.None,
            includeGp: false);

        builder.Add(new CarePlan
        {
            Meta = FhirBuild.Profile(UkCore.CarePlan),
            Status = RequestStatus.Active,
            Intent = CarePlan.CarePlanIntent.Plan,
            Category = [FhirBuild.Snomed("736373009", "End of life care plan")],
            Title = "End of life care plan",
            Description = $"Anticipatory care planning agreed with the patient and family. Preferred place of care and death: {placeText}. Not for cardiopulmonary resuscitation.",
            Subject = gp!.Reference(Name),
            Period = new Period { Start = FhirBuild.DateTime(started) },
            Created = FhirBuild.DateTime(started),
            Author = Who(person.UsualGp),
            CareTeam = [FhirBuild.Urn(teamId)],
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
        });

        builder.Add(
            new Flag
            {
                Meta = FhirBuild.Profile(UkCore.Flag),
                Status = Flag.FlagStatus.Active,
                Category = [FhirBuild.Concept(Systems.FlagCategory, "clinical", "Clinical")],
                Code = FhirBuild.Snomed("304253006", "Not for resuscitation"),
                Subject = gp.Reference(Name),
                Period = new Period { Start = FhirBuild.DateTime(started) },
                Author = Who(person.UsualGp),
            },
            flagId);
    }

    /// <summary>
    /// The person's sharing decisions as FHIR Consent (scope patient-privacy): some opt out of sharing
    /// altogether (a deny provision), some refuse one named organisation (a permit with a nested deny naming
    /// it as recipient), and people known to social care agree to health and social care sharing (a permit).
    /// </summary>
    private void AddConsents()
    {
        if (person.Age < 16)
        {
            return;
        }

        var draw = rng.NextDouble();
        if (draw < 0.03)
        {
            AddConsent(Consent.ConsentProvisionType.Deny, "OPTOUT", "opt-out", null);
        }
        else if (draw < 0.05)
        {
            (string Id, string Name)[] named =
            [
                (RegionDirectory.CouncilId, RegionDirectory.CouncilName),
                (RegionDirectory.MentalHealthTrustId, RegionDirectory.MentalHealthTrustName),
                (RegionDirectory.CommunityTrustId, RegionDirectory.CommunityTrustName),
                (RegionDirectory.HospiceId, RegionDirectory.HospiceName),
            ];
            AddConsent(Consent.ConsentProvisionType.Permit, "OPTIN", "opt-in", rng.Pick(named));
        }
        else if (socialCare is not null && rng.Chance(0.7))
        {
            AddConsent(Consent.ConsentProvisionType.Permit, "OPTIN", "opt-in", null);
        }
    }

    private void AddConsent(Consent.ConsentProvisionType type, string rule, string ruleDisplay, (string Id, string Name)? refused)
    {
        var when = RandomMomentInLast(1500);
        var provision = new Consent.provisionComponent
        {
            Type = type,
            Period = new Period { Start = FhirBuild.DateTime(when) },
            Action = [FhirBuild.Concept("http://terminology.hl7.org/CodeSystem/consentaction", "access", "Access"), FhirBuild.Concept("http://terminology.hl7.org/CodeSystem/consentaction", "disclose", "Disclose")],
        };
        if (refused is { } organisation)
        {
            provision.Provision.Add(new Consent.provisionComponent
            {
                Type = Consent.ConsentProvisionType.Deny,
                Actor =
                [
                    new Consent.provisionActorComponent
                    {
                        Role = FhirBuild.Concept(Systems.ParticipationType, "IRCP", "information recipient"),
                        Reference = FhirBuild.Ref("Organization", organisation.Id, organisation.Name),
                    },
                ],
            });
        }

        builder.Add(new Consent
        {
            Meta = FhirBuild.Profile(UkCore.Consent),
            Status = Consent.ConsentState.Active,
            Scope = FhirBuild.Concept(Systems.ConsentScope, "patient-privacy", "Privacy Consent"),
            Category = [FhirBuild.Concept(Systems.ActCode, "INFA", "information access"), FhirBuild.Snomed("887031000000108", "Consent for information sharing")],
            Patient = Primary.Reference(Name),
            DateTime = FhirBuild.DateTime(when),
            Performer = [Primary.Reference(Name)],
            Organization = [gp is not null
                ? FhirBuild.Ref("Organization", person.Practice.OrganisationId, person.Practice.Name)
                : FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, RegionDirectory.AcuteTrustName)],
            PolicyRule = FhirBuild.Concept(Systems.ActCode, rule, ruleDisplay),
            Provision = provision,
        });
    }
}
