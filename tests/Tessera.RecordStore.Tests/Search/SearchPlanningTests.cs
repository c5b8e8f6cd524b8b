using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Search;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// Which searches keep their PostgreSQL plans: those pinned to one patient (a compartment, or one patient or subject
/// reference), which that patient's rows lead whatever the other values; any other search is planned per execution.
/// </summary>
public sealed class SearchPlanningTests
{
    [Theory]
    [InlineData("Observation", "patient=Patient/p1", true)]
    [InlineData("Observation", "patient=p1&code=http://loinc.org|8867-4&_sort=-date", true)]
    [InlineData("Observation", "subject=Patient/p1", true)]
    [InlineData("Observation", "subject:Patient=p1", true)]
    [InlineData("Condition", "patient=p1&clinical-status=active", true)]
    [InlineData("Observation", "patient=p1,p2", false)]
    [InlineData("Observation", "code=http://loinc.org|8867-4", false)]
    [InlineData("Observation", "patient.family=Smith", false)]
    [InlineData("Observation", "subject:Group=g1", false)]
    [InlineData("Observation", "patient:missing=true", false)]
    [InlineData("Encounter", "date=ge2024-01-01&class=EMER", false)]
    public void Searches_pinned_to_one_patient_keep_their_plans(string type, string query, bool pinned)
    {
        var parsed = SearchQuery.Parse(type, query.Split('&').Select(p => p.Split('=', 2)).Select(p => KeyValuePair.Create(p[0], p[1])), SearchParameterRegistry.Core, strict: true);
        Assert.Equal(pinned, FhirStore.PinnedToOnePatient(parsed));
    }

    [Fact]
    public void A_compartment_search_is_pinned_to_its_patient()
    {
        var parsed = SearchQuery.Parse("Observation", [], SearchParameterRegistry.Core, strict: true);
        Assert.False(FhirStore.PinnedToOnePatient(parsed));
        parsed.CompartmentPatient = "p1";
        Assert.True(FhirStore.PinnedToOnePatient(parsed));
    }
}
