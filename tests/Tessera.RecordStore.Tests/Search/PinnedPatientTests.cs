using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Search;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// Which searches have only one patient's rows (so that an access policy may settle its filter for that patient):
/// those on the single reference that decides whose a resource is, and compartment searches — and no others.
/// </summary>
public sealed class PinnedPatientTests
{
    [Theory]
    [InlineData("Observation", "patient=p1", "p1")]
    [InlineData("Observation", "subject=Patient/p1", "p1")]
    [InlineData("Observation", "subject:Patient=p1", "p1")]
    [InlineData("Encounter", "patient=Patient/p1", "p1")]
    [InlineData("Condition", "subject=Patient/p1", "p1")]
    [InlineData("MedicationRequest", "patient=p1", "p1")]
    [InlineData("AllergyIntolerance", "patient=Patient/p1", "p1")]
    // A bare id where the parameter also indexes other types (AllergyIntolerance.patient is defined over Group and
    // Patient; Observation.subject over anything): it matches a Group with that id as well.
    [InlineData("AllergyIntolerance", "patient=p1", null)]
    [InlineData("Observation", "subject=p1", null)]
    [InlineData("Observation", "subject=Group/p1", null)]
    // Either of two patients, or a reference held elsewhere in the resource.
    [InlineData("Observation", "patient=p1,p2", null)]
    [InlineData("Observation", "performer=Patient/p1", null)]
    [InlineData("AllergyIntolerance", "recorder=Patient/p1", null)]
    // A repeating element can name several patients: the resource is filed under the first.
    [InlineData("Appointment", "patient=p1", null)]
    [InlineData("Appointment", "actor=Patient/p1", null)]
    [InlineData("Provenance", "patient=p1", null)]
    // Chains, absolute URLs, modifiers that change what matches.
    [InlineData("Observation", "patient.family=Smith", null)]
    [InlineData("Observation", "subject=http://elsewhere.example/fhir/Patient/p1", null)]
    [InlineData("Observation", "patient:missing=false", null)]
    [InlineData("Observation", "code=8867-4", null)]
    public void A_search_is_pinned_to_a_patient_only_through_the_reference_that_decides_it(string type, string criterion, string? expected)
    {
        var pair = criterion.Split('=', 2);
        var query = SearchQuery.Parse(type, [KeyValuePair.Create(pair[0], pair[1])], SearchParameterRegistry.Core, strict: true);
        Assert.Equal(expected, PinnedPatient.Of(query, SearchParameterRegistry.Core));
    }

    [Fact]
    public void A_compartment_search_is_pinned_to_its_patient()
    {
        var query = SearchQuery.Parse("Observation", [KeyValuePair.Create("code", "8867-4")], SearchParameterRegistry.Core, strict: true);
        query.CompartmentPatient = "p9";
        Assert.Equal("p9", PinnedPatient.Of(query, SearchParameterRegistry.Core));
    }

    [Theory]
    [InlineData("Observation", "patient=p1", true)]
    [InlineData("Observation", "subject=Patient/p1&_sort=-date&_count=5", true)]
    [InlineData("Encounter", "patient=Patient/p1&_include=Encounter:practitioner&_total=accurate", true)]
    // A second criterion can be common for one value and rare for another: planned for its values.
    [InlineData("Observation", "patient=p1&code=8867-4", false)]
    [InlineData("Observation", "patient=p1&date=ge2024-01-01", false)]
    [InlineData("Observation", "patient=p1&patient=p1", false)]
    // Not pinned to one patient at all.
    [InlineData("Observation", "patient=p1,p2", false)]
    [InlineData("Observation", "code=8867-4", false)]
    [InlineData("Appointment", "patient=p1", false)]
    public void Only_a_search_whose_rows_its_patient_alone_chooses_keeps_one_plan_for_every_patient(string type, string parameters, bool expected)
    {
        var query = SearchQuery.Parse(type, Parameters(parameters), SearchParameterRegistry.Core, strict: true);
        Assert.Equal(expected, PinnedPatient.AloneDecides(query, SearchParameterRegistry.Core));
    }

    [Theory]
    [InlineData("", true)]
    [InlineData("_sort=-date&_count=10", true)]
    [InlineData("code=8867-4", false)]
    public void A_compartment_search_keeps_one_plan_only_without_criteria_of_its_own(string parameters, bool expected)
    {
        var query = SearchQuery.Parse("Observation", Parameters(parameters), SearchParameterRegistry.Core, strict: true);
        query.CompartmentPatient = "p9";
        Assert.Equal(expected, PinnedPatient.AloneDecides(query, SearchParameterRegistry.Core));
    }

    private static KeyValuePair<string, string>[] Parameters(string text) =>
        [.. text.Split('&', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).Select(p => KeyValuePair.Create(p[0], p[1]))];
}
