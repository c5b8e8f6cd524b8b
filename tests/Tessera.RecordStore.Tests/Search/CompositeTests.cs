using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>Composite parameters: tuples whose components stay together, each searched by its own type.</summary>
public sealed class CompositeTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    private const string Loinc = "http://loinc.org";
    private const string Ucum = "http://unitsofmeasure.org";

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Components_of_one_observation_component_stay_together(string backend)
    {
        var store = fixture[backend];
        var tag = StoreExtensions.Unique("bp");
        var panel = Observation(tag, "85354-9", null);
        panel.Component =
        [
            new() { Code = new CodeableConcept(Loinc, "8480-6"), Value = Mmhg(150) },
            new() { Code = new CodeableConcept(Loinc, "8462-4"), Value = Mmhg(80) },
        ];
        var bp = await store.CreateAsync(panel);

        async Task<List<string>> Find(string query) => await store.MatchIdsAsync($"Observation?_tag=urn:test|{tag}&{query}");

        Assert.Equal([bp], await Find($"component-code-value-quantity={Loinc}|8480-6$gt140"));
        Assert.Equal([bp], await Find($"component-code-value-quantity=8462-4$80|{Ucum}|mm[Hg]"));
        // 80 belongs to the diastolic component: a systolic below 90 must not match across components.
        Assert.Empty(await Find($"component-code-value-quantity={Loinc}|8480-6$lt90"));
        Assert.Empty(await Find($"component-code-value-quantity={Loinc}|8462-4$gt140"));
        // The panel code is not a component code.
        Assert.Empty(await Find($"component-code-value-quantity={Loinc}|85354-9$gt0"));
        // Comma: any of the tuples.
        Assert.Equal([bp], await Find($"component-code-value-quantity={Loinc}|8480-6$lt90,{Loinc}|8462-4$lt90"));
        // Two criteria: both tuples must be there (each on its own component).
        Assert.Equal([bp], await Find($"component-code-value-quantity={Loinc}|8480-6$gt140&component-code-value-quantity={Loinc}|8462-4$le80"));
        Assert.Equal([bp], await Find("combo-code-value-quantity=8480-6$150"));
        Assert.Empty(await Find("code-value-quantity=8480-6$150"));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Each_component_type_uses_its_own_semantics(string backend)
    {
        var store = fixture[backend];
        var tag = StoreExtensions.Unique("cv");
        var glucose = await store.CreateAsync(Observation(tag, "2339-0", new Quantity { Value = 97.3m, System = Ucum, Code = "mg/dL", Unit = "mg/dL" }));
        var smoking = await store.CreateAsync(Observation(tag, "72166-2", new CodeableConcept("http://snomed.info/sct", "8517006", "Ex-smoker")));
        var onset = await store.CreateAsync(Observation(tag, "11368-8", new FhirDateTime("2019-03-14")));
        var note = await store.CreateAsync(Observation(tag, "8693-4", new FhirString("Crème brûlée $ dessert")));

        async Task<List<string>> Find(string query) => await store.MatchIdsAsync($"Observation?_tag=urn:test|{tag}&{query}");

        Assert.Equal([glucose], await Find($"code-value-quantity={Loinc}|2339-0$97.3|{Ucum}|mg/dL"));
        Assert.Equal([glucose], await Find($"code-value-quantity={Loinc}|2339-0$ge90"));
        Assert.Empty(await Find($"code-value-quantity={Loinc}|2339-0$gt100"));
        Assert.Empty(await Find($"code-value-quantity=http://other|2339-0$97.3"));
        Assert.Equal([smoking], await Find($"code-value-concept={Loinc}|72166-2$http://snomed.info/sct|8517006"));
        Assert.Empty(await Find($"code-value-concept={Loinc}|72166-2$http://snomed.info/sct|77176002"));
        Assert.Equal([onset], await Find($"code-value-date={Loinc}|11368-8$2019-03"));
        Assert.Equal([onset], await Find($"code-value-date={Loinc}|11368-8$lt2020"));
        Assert.Empty(await Find($"code-value-date={Loinc}|11368-8$gt2020"));
        Assert.Equal([note], await Find($"code-value-string={Loinc}|8693-4$creme"));
        Assert.Equal([note], await Find($"code-value-string={Loinc}|8693-4$Cr%C3%A8me%20br%C3%BBl%C3%A9e%20%5C%24%20d"));
        Assert.Empty(await Find($"code-value-string={Loinc}|8693-4$dessert"));
        // Accents and case fold on both sides, in composites as in plain string parameters.
        Assert.Equal([note], await Find($"code-value-string={Loinc}|8693-4$CR%C3%88ME%20BRULEE"));
        Assert.Equal([note], await Find("value-string=creme%20br%C3%BBlee"));
        Assert.Equal([glucose], await Find("code-value-quantity:missing=false"));
        Assert.Equal(new[] { smoking, onset, note }.Order(), await Find("code-value-quantity:missing=true"));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Group_characteristic_value_pairs_code_and_value(string backend)
    {
        var store = fixture[backend];
        var tag = StoreExtensions.Unique("grp");
        var group = await store.CreateAsync(new Group
        {
            Meta = Tagged(tag),
            Type = Group.GroupType.Person,
            Actual = false,
            Characteristic =
            [
                new() { Code = new CodeableConcept("urn:test:c", "gender"), Value = new CodeableConcept("http://hl7.org/fhir/administrative-gender", "female"), Exclude = false },
                new() { Code = new CodeableConcept("urn:test:c", "smoker"), Value = new FhirBoolean(true), Exclude = false },
            ],
        });

        async Task<List<string>> Find(string query) => await store.MatchIdsAsync($"Group?_tag=urn:test|{tag}&{query}");

        Assert.Equal([group], await Find("characteristic-value=urn:test:c|gender$female"));
        Assert.Equal([group], await Find("characteristic-value=smoker$true"));
        Assert.Empty(await Find("characteristic-value=gender$true"));
        Assert.Empty(await Find("characteristic-value=smoker$female"));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Malformed_composite_values_are_refused(string backend)
    {
        var store = fixture[backend];
        foreach (var query in new[]
        {
            "Observation?code-value-quantity=2339-0",
            "Observation?code-value-quantity=2339-0$1$2",
            "Observation?code-value-quantity=2339-0$",
            "Observation?code-value-quantity=2339-0$abc",
            "Observation?code-value-date=2339-0$notadate",
            "Observation?code-value-quantity:exact=2339-0$1",
            "Observation?_sort=code-value-quantity",
        })
        {
            var response = await store.Send("GET", query);
            Assert.True(response.Status == 400, $"{query} answered {response.Status}");
            Assert.NotNull(response.Outcome);
        }
    }

    [Fact]
    public async System.Threading.Tasks.Task Capability_statement_lists_composites_with_their_components()
    {
        var store = fixture["sqlite"];
        var statement = (CapabilityStatement)(await store.Send("GET", "metadata")).Resource!;
        var observation = statement.Rest[0].Resource.Single(r => r.Type == "Observation");
        var composite = observation.SearchParam.Single(p => p.Name == "component-code-value-quantity");
        Assert.Equal(SearchParamType.Composite, composite.Type);
        Assert.Equal("http://hl7.org/fhir/SearchParameter/Observation-component-code-value-quantity", composite.Definition);
        Assert.Contains(statement.Rest[0].Resource.Single(r => r.Type == "Group").SearchParam, p => p.Name == "characteristic-value");
    }

    private static Observation Observation(string tag, string loinc, DataType? value) => new()
    {
        Meta = Tagged(tag),
        Status = ObservationStatus.Final,
        Code = new CodeableConcept(Loinc, loinc),
        Value = value,
    };

    private static Meta Tagged(string tag) => new() { Tag = [new Coding("urn:test", tag)] };

    private static Quantity Mmhg(decimal value) => new() { Value = value, System = Ucum, Code = "mm[Hg]", Unit = "mmHg" };
}
