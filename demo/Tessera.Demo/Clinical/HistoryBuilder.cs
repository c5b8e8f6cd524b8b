using Hl7.Fhir.Model;
using Tessera.Demo.Fhir;
using Tessera.Demo.People;
using Tessera.Demo.Randomness;
using Tessera.Demo.Region;
using Person = Tessera.Demo.People.Person;

namespace Tessera.Demo.Clinical;

/// <summary>
/// Writes a person's care history into their bundle, each item referencing the source Patient record of the
/// system that recorded it: the GP's problems, medicines, consultations, reviews, results and vaccinations
/// (<c>PrimaryCare.cs</c>); the hospital's emergency attendances, admissions with discharge documents and
/// clinics, and the 111 and ambulance contacts before them (<c>HospitalCare.cs</c>); social care, community
/// nursing, mental health and sexual health services (<c>CommunityCare.cs</c>); end-of-life plans, care teams
/// and consents (<c>CarePlanning.cs</c>); vital signs and laboratory results (<c>Measurements.cs</c>).
/// Services with no source Patient record of their own (community and mental health trusts, 111, ambulance)
/// record against the GP's record, as a shared care record would show them.
/// </summary>
internal sealed partial class HistoryBuilder(
    DemoRandom rng,
    TransactionBuilder builder,
    Person person,
    RegionDirectory region,
    DateOnly referenceDate,
    SourcePatient? gp,
    SourcePatient? hospital,
    SourcePatient? socialCare)
{
    /// <summary>How far back GP records go; hospital and other records go back two years.</summary>
    private const int PrimaryCareDays = 3 * 365;
    private const int SecondaryCareDays = 2 * 365;

    private readonly Dictionary<string, string> _conditionIds = [];
    private readonly decimal _heightCm = (decimal)Math.Round(person.Male ? rng.Normal(176, 7) : rng.Normal(163, 6.5), 1);
    private readonly double _bmi = Math.Clamp(rng.Normal(27.3, 5) + (person.Has("diabetes") ? 3 : 0), 16, 52);

    /// <summary>The record that owns primary-care facts: the GP's, or the hospital's for people with no GP.</summary>
    private SourcePatient Primary => gp ?? hospital ?? socialCare!;

    private string Name => person.Given + " " + person.Family;

    private DateTimeOffset Now => new(referenceDate.ToDateTime(new TimeOnly(9, 0)), TimeSpan.Zero);

    public void Build(int emergencyAttendances, bool electiveAdmission)
    {
        var clinicalRecord = gp is not null || hospital is not null;
        if (clinicalRecord)
        {
            AddProblemsAndMedicines();
            AddAllergy();
        }

        if (gp is not null)
        {
            AddGpConsultations();
            AddLongTermConditionReviews();
            AddFluVaccinations();
        }

        if (clinicalRecord)
        {
            AddNhs111Calls();
        }

        if (hospital is not null)
        {
            AddHospitalCare(emergencyAttendances, electiveAdmission);
        }

        if (socialCare is not null)
        {
            AddSocialCare();
        }

        if (gp is not null)
        {
            AddCommunityNursing();
            AddMentalHealthCare();
            AddSexualHealth();
            AddLongTermConditionsTeam();
            if (NeedsEndOfLifePlan())
            {
                AddEndOfLifePlan();
            }
        }

        AddConsents();
    }

    private DateTimeOffset RandomMomentInLast(int days)
    {
        var day = referenceDate.AddDays(-rng.Between(1, days));
        return new DateTimeOffset(day.ToDateTime(new TimeOnly(rng.Between(8, 17), rng.Next(4) * 15)), TimeSpan.Zero);
    }

    private static ResourceReference Who(Staff staff) => FhirBuild.Ref("Practitioner", staff.PractitionerId, staff.Name);

    /// <summary>Labels a resource with its sensitivity (v3 ActCode) and marks it restricted (v3 Confidentiality R).</summary>
    private static T Label<T>(T resource, Sensitivity sensitivity)
        where T : Resource
    {
        if (sensitivity == Sensitivity.None)
        {
            return resource;
        }

        resource.Meta ??= new Meta();
        foreach (var (code, display) in SecurityLabels.For(sensitivity))
        {
            resource.Meta.Security.Add(new Coding(Systems.ActCode, code, display));
        }

        resource.Meta.Security.Add(new Coding(Systems.Confidentiality, "R", "restricted"));
        return resource;
    }

    private Encounter NewEncounter(string classCode, string classDisplay, string typeCode, string typeDisplay, SourcePatient subject, Staff clinician, DateTimeOffset start, DateTimeOffset end, string providerId, string? locationId) =>
        NewEncounter(classCode, classDisplay, FhirBuild.Snomed(typeCode, typeDisplay), subject, clinician, start, end, providerId, locationId);

    private Encounter NewEncounter(string classCode, string classDisplay, CodeableConcept type, SourcePatient subject, Staff clinician, DateTimeOffset start, DateTimeOffset end, string providerId, string? locationId) =>
        new()
        {
            Meta = FhirBuild.Profile(UkCore.Encounter),
            Status = end > Now ? Encounter.EncounterStatus.InProgress : Encounter.EncounterStatus.Finished,
            Class = new Coding(Systems.ActCode, classCode, classDisplay),
            Type = [type],
            Subject = subject.Reference(Name),
            Participant =
            [
                new Encounter.ParticipantComponent
                {
                    Type = [FhirBuild.Concept(Systems.ParticipationType, "PPRF", "primary performer")],
                    Individual = Who(clinician),
                },
            ],
            Period = new Period { Start = FhirBuild.DateTime(start), End = end > Now ? null : FhirBuild.DateTime(end) },
            Location = locationId is null ? [] : [new Encounter.LocationComponent { Location = FhirBuild.Ref("Location", locationId) }],
            ServiceProvider = FhirBuild.Ref("Organization", providerId),
        };

    /// <summary>
    /// An appointment with a clinician at a site. Past ones are fulfilled (the encounter points at them),
    /// cancelled or not attended; future ones are booked.
    /// </summary>
    private string AddAppointment(SourcePatient subject, Staff clinician, string locationId, DateTimeOffset start, int minutes, string typeCode, string description, Appointment.AppointmentStatus status, Sensitivity sensitivity = Sensitivity.None)
    {
        var appointment = new Appointment
        {
            Meta = FhirBuild.Profile(UkCore.Appointment),
            Status = status,
            AppointmentType = FhirBuild.Concept(Systems.AppointmentType, typeCode, typeCode switch
            {
                "FOLLOWUP" => "A follow up visit from a previous appointment",
                "CHECKUP" => "A routine check-up, such as an annual physical",
                _ => "Routine appointment - default if not valued",
            }),
            Description = description,
            Start = start,
            End = start.AddMinutes(minutes),
            MinutesDuration = minutes,
            Created = FhirBuild.Date(DateOnly.FromDateTime(start.AddDays(-rng.Between(1, 21)).Date)),
            Participant =
            [
                new Appointment.ParticipantComponent { Actor = subject.Reference(Name), Required = Appointment.ParticipantRequired.Required, Status = ParticipationStatus.Accepted },
                new Appointment.ParticipantComponent { Actor = Who(clinician), Required = Appointment.ParticipantRequired.Required, Status = ParticipationStatus.Accepted },
                new Appointment.ParticipantComponent { Actor = FhirBuild.Ref("Location", locationId), Required = Appointment.ParticipantRequired.Required, Status = ParticipationStatus.Accepted },
            ],
        };
        if (status == Appointment.AppointmentStatus.Cancelled)
        {
            appointment.CancelationReason = rng.Chance(0.6)
                ? FhirBuild.Concept(Systems.AppointmentCancellationReason, "pat", "Patient")
                : FhirBuild.Concept(Systems.AppointmentCancellationReason, "prov", "Provider");
        }

        return builder.Add(Label(appointment, sensitivity));
    }

    /// <summary>Cancelled and missed appointments alongside the kept ones, and a booked one or two ahead.</summary>
    private void AddUnkeptAndFutureAppointments(SourcePatient subject, IReadOnlyList<Staff> clinicians, string locationId, int kept, int minutes, string description, Sensitivity sensitivity = Sensitivity.None)
    {
        var unkept = rng.Poisson(0.12 * kept);
        for (var i = 0; i < unkept; i++)
        {
            var status = rng.Chance(0.55) ? Appointment.AppointmentStatus.Cancelled : Appointment.AppointmentStatus.Noshow;
            AddAppointment(subject, rng.Pick(clinicians), locationId, RandomMomentInLast(PrimaryCareDays), minutes, "ROUTINE", description, status, sensitivity);
        }

        if (kept > 0 && rng.Chance(0.5))
        {
            var day = referenceDate.AddDays(rng.Between(2, 60));
            var start = new DateTimeOffset(day.ToDateTime(new TimeOnly(rng.Between(8, 17), rng.Next(4) * 15)), TimeSpan.Zero);
            AddAppointment(subject, rng.Pick(clinicians), locationId, start, minutes, "FOLLOWUP", description, Appointment.AppointmentStatus.Booked, sensitivity);
        }
    }
}

/// <summary>The meta.security codes each sensitivity category carries (documented in docs/demo.md).</summary>
internal static class SecurityLabels
{
    public static IEnumerable<(string Code, string Display)> For(Sensitivity sensitivity) => sensitivity switch
    {
        Sensitivity.MentalHealth => [("PSY", "psychiatry disorder information sensitivity")],
        Sensitivity.SexualHealth => [("SEX", "sexuality and reproductive health information sensitivity")],
        Sensitivity.SexuallyTransmittedInfection =>
        [
            ("SEX", "sexuality and reproductive health information sensitivity"),
            ("STD", "sexually transmitted disease information sensitivity"),
        ],
        Sensitivity.Safeguarding => [("SDV", "sexual assault, abuse, or domestic violence information sensitivity")],
        _ => [],
    };
}
