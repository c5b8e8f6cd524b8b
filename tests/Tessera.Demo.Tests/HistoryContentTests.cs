using Hl7.Fhir.Model;

namespace Tessera.Demo.Tests;

/// <summary>The richness of the region: volume by age, organisations and roles, labels, consents, appointments, results and documents.</summary>
public sealed class HistoryContentTests
{
    private const string ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

    private static RegionSample Sample => RegionSample.Instance;

    private static IEnumerable<Resource> PersonResources => Sample.Persons.SelectMany(RegionSample.Resources);

    private static int AgeOf(PersonBundle person)
    {
        var patient = RegionSample.Resources(person).OfType<Patient>().First();
        return Sample.Options.ReferenceDate.Year - int.Parse(patient.BirthDate[..4], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void People_have_about_a_hundred_resources_each_and_older_people_more()
    {
        var perPerson = Sample.Persons.Select(p => (Age: AgeOf(p), Count: p.Bundle.Entry.Count)).ToList();
        var mean = perPerson.Average(p => p.Count);
        Assert.InRange(mean, 80, 140);

        var children = perPerson.Where(p => p.Age < 16).Average(p => p.Count);
        var working = perPerson.Where(p => p.Age is >= 25 and < 50).Average(p => p.Count);
        var older = perPerson.Where(p => p.Age >= 75).Average(p => p.Count);
        Assert.True(older > 2 * working, $"75+ ({older:F0}) have more than twice the records of 25-49 ({working:F0})");
        Assert.True(working > children * 0.8, $"adults ({working:F0}) are not far below children ({children:F0})");

        var types = PersonResources.Select(r => r.TypeName).ToHashSet();
        foreach (var expected in new[]
        {
            "Patient", "Condition", "MedicationRequest", "MedicationStatement", "AllergyIntolerance", "Encounter", "Observation",
            "DiagnosticReport", "DocumentReference", "Composition", "CarePlan", "CareTeam", "Consent", "EpisodeOfCare", "Flag",
            "Appointment", "Immunization",
        })
        {
            Assert.Contains(expected, types);
        }
    }

    [Fact]
    public void Every_organisation_kind_has_sites_inside_tessvale_services_and_staff_with_policy_roles()
    {
        var resources = Sample.OrganisationResources.ToList();
        var organisations = resources.OfType<Organization>().ToList();
        var locations = resources.OfType<Location>().ToList();
        var services = resources.OfType<HealthcareService>().ToList();
        var roles = resources.OfType<PractitionerRole>().ToList();
        foreach (var organisation in organisations)
        {
            var reference = $"Organization/{organisation.Id}";
            Assert.Contains(locations, l => l.ManagingOrganization.Reference == reference);
            Assert.Contains(services, s => s.ProvidedBy.Reference == reference);
            Assert.Contains(roles, r => r.Organization.Reference == reference);
        }

        // Tessvale's towns lie within about 52.6-52.9 N, 1.3-1.8 W.
        Assert.All(locations, l =>
        {
            Assert.InRange(l.Position.Latitude!.Value, 52.55m, 52.95m);
            Assert.InRange(l.Position.Longitude!.Value, -1.85m, -1.30m);
        });

        var tesseraRoles = roles.SelectMany(r => r.Code[0].Coding).Where(c => c.System == "urn:tessera:role").Select(c => c.Code).ToHashSet();
        Assert.Equal(new[] { "admin-staff", "clinician-111", "gp", "ig-lead", "nurse", "paramedic", "social-worker" }, tesseraRoles.Order());
        Assert.All(
            organisations.Where(o => o.Type[0].Text is not ("Community pharmacy" or "Voluntary sector")),
            o => Assert.Single(roles, r => r.Organization.Reference == $"Organization/{o.Id}" && r.Code[0].Coding.Any(c => c.Code == "ig-lead")));
        Assert.Contains(roles, r => r.Organization.Reference == "Organization/tv-nhs-111" && r.Code[0].Coding.Any(c => c.Code == "clinician-111"));
        Assert.Contains(roles, r => r.Organization.Reference == "Organization/tv-ambulance-service" && r.Code[0].Coding.Any(c => c.Code == "paramedic"));
        Assert.Contains(resources.OfType<Medication>(), m => m.Code.Coding[0].System == "https://dmd.nhs.uk");
    }

    [Fact]
    public void Sensitive_records_carry_the_documented_security_labels()
    {
        var documented = new HashSet<string> { "PSY", "SEX", "STD", "SDV" };
        var labelled = PersonResources.Where(r => r.Meta.Security.Count > 0).ToList();
        Assert.All(labelled, r =>
        {
            Assert.Contains(r.Meta.Security, c => c.System == "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" && c.Code == "R");
            Assert.All(r.Meta.Security.Where(c => c.System == ActCode), c => Assert.Contains(c.Code, documented));
        });

        bool Has(Resource r, string code) => r.Meta.Security.Any(c => c.System == ActCode && c.Code == code);
        var conditions = PersonResources.OfType<Condition>().ToList();

        // Mental health problems (depression, anxiety, psychosis) are PSY wherever they are recorded; physical ones are not.
        Assert.All(conditions.Where(c => c.Code.Coding[0].Code is "35489007" or "197480006" or "58214004" or "13746004"), c => Assert.True(Has(c, "PSY")));
        Assert.All(conditions.Where(c => c.Code.Coding[0].Code is "38341003" or "44054006"), c => Assert.Empty(c.Meta.Security));
        Assert.Contains(PersonResources.OfType<Encounter>(), e => Has(e, "PSY") && e.ServiceProvider.Reference == "Organization/tv-mental-health-trust");

        // Sexual health visits are SEX; infections found there are SEX and STD.
        Assert.Contains(PersonResources.OfType<Encounter>(), e => Has(e, "SEX"));
        Assert.All(conditions.Where(c => c.Code.Coding[0].Code is "105629000" or "15628003"), c => Assert.True(Has(c, "SEX") && Has(c, "STD")));

        // Child protection and adult safeguarding are SDV.
        Assert.Contains(PersonResources.OfType<EpisodeOfCare>(), e => Has(e, "SDV") && e.Type[0].Coding[0].Code == "child-protection-plan");
        Assert.All(PersonResources.OfType<Flag>().Where(f => f.Category[0].Coding[0].Code == "safety"), f => Assert.True(Has(f, "SDV")));

        // Most of the record is not sensitive.
        Assert.InRange(labelled.Count / (double)PersonResources.Count(), 0.005, 0.15);
    }

    [Fact]
    public void Consents_opt_out_refuse_a_named_organisation_or_permit_sharing()
    {
        var consents = PersonResources.OfType<Consent>().ToList();
        var organisations = Sample.OrganisationResources.OfType<Organization>().Select(o => $"Organization/{o.Id}").ToHashSet();
        Assert.All(consents, c => Assert.Equal("patient-privacy", c.Scope.Coding[0].Code));

        var optOuts = consents.Where(c => c.Provision.Type == Consent.ConsentProvisionType.Deny).ToList();
        Assert.NotEmpty(optOuts);
        Assert.All(optOuts, c => Assert.Equal("OPTOUT", c.PolicyRule.Coding[0].Code));

        var restrictions = consents.Where(c => c.Provision.Type == Consent.ConsentProvisionType.Permit && c.Provision.Provision.Count > 0).ToList();
        Assert.NotEmpty(restrictions);
        Assert.All(restrictions, c =>
        {
            var deny = Assert.Single(c.Provision.Provision);
            Assert.Equal(Consent.ConsentProvisionType.Deny, deny.Type);
            Assert.Contains(Assert.Single(deny.Actor).Reference.Reference, organisations);
        });

        Assert.Contains(consents, c => c.Provision.Type == Consent.ConsentProvisionType.Permit && c.Provision.Provision.Count == 0);
        var adults = Sample.Persons.Count(p => AgeOf(p) >= 16);
        Assert.InRange(optOuts.Count / (double)adults, 0.01, 0.06);
    }

    [Fact]
    public void Appointments_are_kept_cancelled_missed_or_booked_ahead_and_encounters_point_at_kept_ones()
    {
        var reference = new DateTimeOffset(Sample.Options.ReferenceDate.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        foreach (var person in Sample.Persons.Take(500))
        {
            var appointments = RegionSample.Resources(person).OfType<Appointment>().ToDictionary(a => $"urn:uuid:{a.Id}");
            foreach (var encounter in RegionSample.Resources(person).OfType<Encounter>().Where(e => e.Appointment.Count > 0))
            {
                var appointment = appointments[encounter.Appointment[0].Reference];
                Assert.Equal(Appointment.AppointmentStatus.Fulfilled, appointment.Status);
                Assert.Equal(appointment.Start, DateTimeOffset.Parse(encounter.Period.Start, System.Globalization.CultureInfo.InvariantCulture));
            }

            Assert.All(appointments.Values, a =>
            {
                Assert.Equal(a.Status == Appointment.AppointmentStatus.Booked, a.Start > reference);
                Assert.Equal(a.Status == Appointment.AppointmentStatus.Cancelled, a.CancelationReason is not null);
            });
        }

        var statuses = PersonResources.OfType<Appointment>().GroupBy(a => a.Status!.Value).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(statuses[Appointment.AppointmentStatus.Fulfilled] > 10 * statuses[Appointment.AppointmentStatus.Cancelled]);
        Assert.True(statuses[Appointment.AppointmentStatus.Noshow] > 0);
        Assert.True(statuses[Appointment.AppointmentStatus.Booked] > 0);
    }

    [Fact]
    public void Laboratory_reports_hold_their_results_and_discharges_have_a_structured_summary()
    {
        foreach (var person in Sample.Persons.Take(500))
        {
            var byUrn = RegionSample.Resources(person).ToDictionary(r => $"urn:uuid:{r.Id}");
            foreach (var report in byUrn.Values.OfType<DiagnosticReport>())
            {
                Assert.NotEmpty(report.Result);
                Assert.All(report.Result, r => Assert.Equal("laboratory", ((Observation)byUrn[r.Reference]).Category[0].Coding[0].Code));
                Assert.Equal("http://loinc.org", report.Code.Coding[0].System);
            }

            foreach (var summary in byUrn.Values.OfType<Composition>())
            {
                Assert.Equal("373942005", summary.Type.Coding[0].Code);
                var encounter = (Encounter)byUrn[summary.Encounter.Reference];
                Assert.Equal("IMP", encounter.Class.Code);
                Assert.NotNull(encounter.Period.End);
                var diagnoses = Assert.Single(summary.Section, s => s.Code.Coding[0].Code == "diagnoses");
                Assert.IsType<Condition>(byUrn[Assert.Single(diagnoses.Entry).Reference]);
                var medicines = Assert.Single(summary.Section, s => s.Code.Coding[0].Code == "medications-and-medical-devices");
                Assert.All(medicines.Entry, e => Assert.IsType<ResourceReference>(((MedicationRequest)byUrn[e.Reference]).Medication));
                Assert.Contains(byUrn.Values.OfType<DocumentReference>(), d => d.Context.Encounter[0].Reference == summary.Encounter.Reference);
            }

            // Repeat prescribing: each issue is based on an authorisation of the same medicine.
            foreach (var issue in byUrn.Values.OfType<MedicationRequest>().Where(m => m.BasedOn.Count > 0))
            {
                var plan = (MedicationRequest)byUrn[issue.BasedOn[0].Reference];
                Assert.Equal(MedicationRequest.MedicationRequestIntent.Plan, plan.Intent);
                Assert.Equal(((CodeableConcept)plan.Medication).Coding[0].Code, ((CodeableConcept)issue.Medication).Coding[0].Code);
            }
        }

        var hba1c = PersonResources.OfType<Observation>().Where(o => o.Code.Coding[0].Code == "59261-8").ToList();
        Assert.Contains(hba1c, o => o.Interpretation[0].Coding[0].Code == "H");
        Assert.Contains(PersonResources.OfType<Immunization>(), i => i.VaccineCode.Coding[0].System == "https://dmd.nhs.uk");
        Assert.Contains(PersonResources.OfType<Encounter>(), e => e.Class.Code == "FLD" && e.ServiceProvider.Reference == "Organization/tv-ambulance-service");
        Assert.Contains(PersonResources.OfType<Encounter>(), e => e.Class.Code == "VR" && e.ServiceProvider.Reference == "Organization/tv-nhs-111");
        Assert.Contains(PersonResources.OfType<CareTeam>(), t => t.Participant.Count >= 2);
    }
}
