using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Tessera.Governance.Audit;

namespace Tessera.Governance.Tests.Audit;

/// <summary>
/// The patient an audit event names for a returned resource is read from its stored JSON in one pass: it must be the
/// one the resource's own elements give.
/// </summary>
public sealed class AuditPatientTests
{
    public static TheoryData<string> Resources()
    {
        var serializer = new FhirJsonSerializer();
        var data = new TheoryData<string>();
        foreach (var resource in new Resource[]
        {
            new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Patient/p1"), Performer = [new ResourceReference("Patient/p2")] },
            new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Group/g1") },
            new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4") },
            new Encounter { Status = Encounter.EncounterStatus.Finished, Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"), Subject = new ResourceReference("Patient/e-1.x") },
            new AllergyIntolerance { Patient = new ResourceReference("Patient/a1"), Recorder = new ResourceReference("Patient/a2") },
            new Coverage { Status = FinancialResourceStatusCodes.Active, Beneficiary = new ResourceReference("Patient/c1"), Payor = [new ResourceReference("Organization/o1")] },
            new MedicationRequest { Status = MedicationRequest.MedicationrequestStatus.Active, Intent = MedicationRequest.MedicationRequestIntent.Order, Medication = new CodeableConcept("http://snomed.info/sct", "1"), Subject = new ResourceReference("https://elsewhere.example/fhir/Patient/m1") },
            new Condition { Subject = new ResourceReference { Display = "no reference, only a name" }, Evidence = [new Condition.EvidenceComponent { Detail = [new ResourceReference("Patient/nested")] }] },
        })
        {
            data.Add(serializer.SerializeToString(resource));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Resources))]
    public void The_patient_read_from_stored_json_is_the_one_the_resource_names(string json)
    {
        var resource = new FhirJsonDeserializer().Deserialize<Resource>(json);
        Assert.Equal(AuditEvents.PatientOf(resource), AuditEvents.PatientOfJson(json));
    }

    [Theory]
    // References nested elsewhere (an extension) do not count; escapes and other properties are read past.
    [InlineData("""{"resourceType":"Basic","meta":{"tag":[{"code":"x"}]},"extension":[{"url":"u","valueReference":{"reference":"Patient/wrong"}}],"subject":{"display":"a \"quoted\" name","extension":[{"url":"v","valueReference":{"reference":"Patient/inner"}}],"reference":"Patient/first"},"code":{"text":"t"}}""", "first")]
    // The preferred element wins wherever it stands; a Group does not.
    [InlineData("""{"resourceType":"X","patient":{"reference":"Patient/second"},"subject":{"reference":"Patient/first"}}""", "first")]
    [InlineData("""{"resourceType":"X","subject":{"reference":"Group/g"},"patient":{"identifier":{"value":"1"},"reference":"Patient/p\u0031"}}""", "p1")]
    [InlineData("""{"resourceType":"X","subject":[{"reference":"Patient/in-an-array"}]}""", null)]
    [InlineData("""{"resourceType":"X"}""", null)]
    // A plain "Patient/[id]" is read straight from the bytes; any other form goes through the general reading of references.
    [InlineData("""{"resourceType":"X","subject":{"reference":"Patient/h1/_history/3"}}""", "h1")]
    [InlineData("""{"resourceType":"X","subject":{"reference":"Patient\/esc1"}}""", "esc1")]
    [InlineData("""{"resourceType":"X","subject":{"reference":"Patient/"}}""", null)]
    [InlineData("""{"resourceType":"X","subject":{"reference":"Patient/q1?x=1"}}""", "q1")]
    [InlineData("""{"resourceType":"X","subject":{"reference":"Patient/café"}}""", "café")]
    public void The_patient_is_read_from_the_top_level_reference_elements_only(string json, string? expected) =>
        Assert.Equal(expected, AuditEvents.PatientOfJson(json));
}
