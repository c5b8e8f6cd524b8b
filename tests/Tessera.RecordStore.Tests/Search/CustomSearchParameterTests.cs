using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>SearchParameter resources posted to the store: validated, used for new writes at once, and after a restart.</summary>
public sealed class CustomSearchParameterTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    // An extension the tests' custom parameter indexes.
    private const string Colour = "http://example.org/fhir/StructureDefinition/favourite-colour";

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task An_active_search_parameter_indexes_new_writes_and_survives_a_restart(string backend)
    {
        var (store, code) = (fixture[backend], StoreExtensions.Unique("colour"));
        var before = await PostPatient(store, "blue");
        var parameter = await store.Send("POST", "SearchParameter", Definition(code, SearchParamType.String, $"Patient.extension('{Colour}').value.as(string)"));
        Assert.True(parameter.Status == 201, StoreExtensions.Describe(parameter));
        var after = await PostPatient(store, "Bluish green");
        var other = await PostPatient(store, "red");

        async Task<List<string>> Find(FhirStore s, string query) =>
            [.. (await s.SearchAsync($"Patient?{query}&_count=100")).Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource.Id!)];

        // New writes are indexed at once; the patient written before the parameter existed needs $reindex.
        Assert.Equal([after], await Find(store, $"{code}=blu"));
        Assert.Equal([other], await Find(store, $"{code}:exact=red"));
        Assert.DoesNotContain(before, await Find(store, $"{code}=blue"));
        Assert.Equal([after, other], await Find(store, $"{code}:missing=false&_sort={code}"));
        Assert.Contains((await Capabilities(store)).SearchParam, p => p.Name == code && p.Type == SearchParamType.String);

        // Another store opened on the same database (a restart, or a second node) loads it from the store.
        await using (var reopened = await FhirStore.OpenAsync(store.Location))
        {
            Assert.Equal([after], await Find(reopened, $"{code}=blu"));
        }

        // Deleting it stops its use: the parameter is unknown again.
        Assert.Equal(204, (await store.Send("DELETE", $"SearchParameter/{parameter.Id}")).Status);
        Assert.Null(store.Registry.Find("Patient", code));
        Assert.DoesNotContain((await Capabilities(store)).SearchParam, p => p.Name == code);
        var strict = await store.Send("GET", $"Patient?{code}=blu", adjust: r => r with { StrictHandling = true });
        Assert.Equal(400, strict.Status);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Token_and_reference_parameters_work_and_updates_replace_the_definition(string backend)
    {
        var (store, code) = (fixture[backend], StoreExtensions.Unique("method"));
        var definition = Definition(code, SearchParamType.Token, "Observation.method", ResourceType.Observation);
        var created = await store.Send("POST", "SearchParameter", definition);
        Assert.True(created.Status == 201, StoreExtensions.Describe(created));
        var observation = await store.Send("POST", "Observation", new Observation
        {
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "8310-5"),
            Method = new CodeableConcept("http://snomed.info/sct", "89003005"),
            Performer = [new ResourceReference("Practitioner/p-" + code)],
        });
        Assert.Single((await store.SearchAsync($"Observation?{code}=http://snomed.info/sct|89003005")).Entry);

        // Updated to a reference parameter on performer: the same code now means something else.
        definition.Type = SearchParamType.Reference;
        definition.Expression = "Observation.performer";
        definition.Target = [ResourceType.Practitioner];
        Assert.Equal(200, (await store.Send("PUT", $"SearchParameter/{created.Id}", definition)).Status);
        Assert.Equal(SearchParamType.Reference, store.Registry.Find("Observation", code)!.Type);
        Assert.Equal(200, (await store.Send("PUT", $"Observation/{observation.Id}", observation.Body<Observation>())).Status);
        Assert.Single((await store.SearchAsync($"Observation?{code}=Practitioner/p-{code}")).Entry);

        // A draft is stored but not used.
        definition.Status = PublicationStatus.Draft;
        Assert.Equal(200, (await store.Send("PUT", $"SearchParameter/{created.Id}", definition)).Status);
        Assert.Null(store.Registry.Find("Observation", code));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Invalid_definitions_are_refused_and_nothing_is_stored(string backend)
    {
        var (store, code) = (fixture[backend], StoreExtensions.Unique("bad"));
        var cases = new (SearchParameter Definition, string Expect)[]
        {
            (Definition(code, SearchParamType.String, "Patient.name.where("), "not valid FHIRPath"),
            (Definition(code, SearchParamType.Composite, "Patient.name"), "not supported"),
            (Definition(code, SearchParamType.Special, "Patient.name"), "not supported"),
            (Definition("name", SearchParamType.String, "Patient.name"), "already a search parameter"),
            (Definition("_" + code, SearchParamType.String, "Patient.name"), "reserved"),
            (Definition(code, SearchParamType.String, string.Empty), "expression is required"),
            (NoBase(Definition(code, SearchParamType.String, "Patient.name")), "base is required"),
        };
        foreach (var (definition, expect) in cases)
        {
            definition.Url = "http://example.org/fhir/SearchParameter/" + code + "-" + expect.Length;
            var response = await store.Send("POST", "SearchParameter", definition);
            Assert.True(response.Status == 422, $"{definition.Code} / {definition.Expression}: {response.Status} {StoreExtensions.Describe(response)}");
            Assert.Contains(expect, StoreExtensions.Describe(response), StringComparison.Ordinal);
            Assert.Empty((await store.SearchAsync($"SearchParameter?url={definition.Url}")).Entry);
        }

        // Two custom definitions cannot share a code on one type.
        Assert.Equal(201, (await store.Send("POST", "SearchParameter", Definition(code, SearchParamType.String, "Patient.name.family"))).Status);
        var clash = await store.Send("POST", "SearchParameter", Definition(code, SearchParamType.String, "Patient.name.given"));
        Assert.Equal(422, clash.Status);
        Assert.Contains("SearchParameter/", StoreExtensions.Describe(clash), StringComparison.Ordinal);
    }

    /// <summary>An active custom definition on one base (Patient unless given).</summary>
    internal static SearchParameter Definition(string code, SearchParamType type, string expression, ResourceType on = ResourceType.Patient) => new()
    {
        Url = "http://example.org/fhir/SearchParameter/" + code,
        Name = code,
        Status = PublicationStatus.Active,
        Description = "A test parameter",
        Code = code,
        Base = [on],
        Type = type,
        Expression = expression,
    };

    private static SearchParameter NoBase(SearchParameter definition)
    {
        definition.Base = [];
        return definition;
    }

    private static async Task<CapabilityStatement.ResourceComponent> Capabilities(FhirStore store) =>
        ((CapabilityStatement)(await store.Send("GET", "metadata")).Resource!).Rest[0].Resource.Single(r => r.Type == "Patient");

    private static async Task<string> PostPatient(FhirStore store, string colour)
    {
        var patient = new Patient { Name = [new HumanName { Family = "Custom" }] };
        patient.Extension.Add(new Extension(Colour, new FhirString(colour)));
        var response = await store.Send("POST", "Patient", patient);
        Assert.Equal(201, response.Status);
        return response.Id!;
    }
}
