namespace Tessera.Demo.Fhir;

/// <summary>The UK Core R4 profile and extension canonicals the demo region declares.</summary>
internal static class UkCore
{
    private const string Base = "https://fhir.hl7.org.uk/StructureDefinition/";

    public const string Patient = Base + "UKCore-Patient";
    public const string Organization = Base + "UKCore-Organization";
    public const string Location = Base + "UKCore-Location";
    public const string Practitioner = Base + "UKCore-Practitioner";
    public const string PractitionerRole = Base + "UKCore-PractitionerRole";
    public const string HealthcareService = Base + "UKCore-HealthcareService";
    public const string Encounter = Base + "UKCore-Encounter";
    public const string Condition = Base + "UKCore-Condition";
    public const string Observation = Base + "UKCore-Observation";
    public const string ObservationLab = Base + "UKCore-Observation-Lab";
    public const string BloodPressure = Base + "UKCore-Observation-VitalSigns-BloodPressure";
    public const string HeartRate = Base + "UKCore-Observation-VitalSigns-HeartRate";
    public const string BodyWeight = Base + "UKCore-Observation-VitalSigns-BodyWeight";
    public const string BodyHeight = Base + "UKCore-Observation-VitalSigns-BodyHeight";
    public const string Bmi = Base + "UKCore-Observation-VitalSigns-BMI";
    public const string AllergyIntolerance = Base + "UKCore-AllergyIntolerance";
    public const string MedicationRequest = Base + "UKCore-MedicationRequest";
    public const string MedicationStatement = Base + "UKCore-MedicationStatement";
    public const string DocumentReference = Base + "UKCore-DocumentReference";
    public const string CarePlan = Base + "UKCore-CarePlan";
    public const string Consent = Base + "UKCore-Consent";
    public const string Flag = Base + "UKCore-Flag";
    public const string EpisodeOfCare = Base + "UKCore-EpisodeOfCare";
    public const string Appointment = Base + "UKCore-Appointment";
    public const string Medication = Base + "UKCore-Medication";
    public const string Immunization = Base + "UKCore-Immunization";
    public const string DiagnosticReportLab = Base + "UKCore-DiagnosticReport-Lab";
    public const string Composition = Base + "UKCore-Composition";
    public const string CareTeam = Base + "UKCore-CareTeam";
    public const string RespirationRate = Base + "UKCore-Observation-VitalSigns-RespirationRate";
    public const string BodyTemperature = Base + "UKCore-Observation-VitalSigns-BodyTemperature";
    public const string OxygenSaturation = Base + "UKCore-Observation-VitalSigns-OxygenSaturation";
    public const string EarlyWarningScore = Base + "UKCore-Observation-EarlyWarningTotalScore";

    public const string EthnicCategoryExtension = Base + "Extension-UKCore-EthnicCategory";
    public const string NhsNumberVerificationStatusExtension = Base + "Extension-UKCore-NHSNumberVerificationStatus";
    public const string AdmissionMethodExtension = Base + "Extension-UKCore-AdmissionMethod";
    public const string DischargeMethodExtension = Base + "Extension-UKCore-DischargeMethod";
}

/// <summary>Code and identifier systems; the ODS-style codes and local identifier systems are fictional.</summary>
internal static class Systems
{
    public const string Snomed = "http://snomed.info/sct";
    public const string Loinc = "http://loinc.org";
    public const string Ucum = "http://unitsofmeasure.org";
    public const string Dmd = "https://dmd.nhs.uk";
    public const string OdsOrganisation = "https://fhir.nhs.uk/Id/ods-organization-code";
    public const string OdsSite = "https://fhir.nhs.uk/Id/ods-site-code";
    public const string ProfessionalCode = "https://fhir.hl7.org.uk/Id/professional-code";
    public const string EthnicCategory = "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategory";
    public const string NhsNumberVerificationStatus = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland";
    public const string AdmissionMethod = "https://fhir.hl7.org.uk/CodeSystem/UKCore-AdmissionMethodEngland";
    public const string DischargeMethod = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeMethodEngland";
    public const string DischargeDestination = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland";
    public const string ActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
    public const string Confidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";
    public const string ObservationInterpretation = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
    public const string DiagnosticServiceSection = "http://terminology.hl7.org/CodeSystem/v2-0074";
    public const string AppointmentType = "http://terminology.hl7.org/CodeSystem/v2-0276";
    public const string AppointmentCancellationReason = "http://terminology.hl7.org/CodeSystem/appointment-cancellation-reason";
    public const string CareTeamCategory = Loinc;
    public const string RecordStandardHeadings = "https://fhir.hl7.org.uk/CodeSystem/UKCore-RecordStandardHeadings";
    public const string ParticipationRole = "http://terminology.hl7.org/CodeSystem/v3-RoleCode";
    public const string ParticipationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
    public const string ObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category";
    public const string ConditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
    public const string ConditionVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
    public const string ConditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category";
    public const string AllergyClinical = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
    public const string AllergyVerification = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
    public const string ConsentScope = "http://terminology.hl7.org/CodeSystem/consentscope";
    public const string ConsentPolicy = "http://terminology.hl7.org/CodeSystem/consentpolicycodes";
    public const string CourseOfTherapy = "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy";
    public const string FlagCategory = "http://terminology.hl7.org/CodeSystem/flag-category";
    public const string OrganizationType = "http://terminology.hl7.org/CodeSystem/organization-type";
    public const string EpisodeOfCareType = "http://terminology.hl7.org/CodeSystem/episodeofcare-type";
    public const string DocumentClass = "http://ihe.net/fhir/ValueSet/IHE.FormatCode.codesystem";

    public const string GpPatientId = "https://fhir.tessvale-gp.nhs.uk/Id/patient-id";
    public const string HospitalMrn = "https://fhir.tessvalehospitals.nhs.uk/Id/mrn";
    public const string SocialCareClientId = "https://fhir.tessvale.gov.uk/Id/social-care-client-id";
    public const string StaffNumber = "https://fhir.tessvale.nhs.uk/Id/staff-number";
}
