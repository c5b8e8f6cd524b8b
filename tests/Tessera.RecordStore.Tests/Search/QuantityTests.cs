using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>Quantity search: UCUM canonical units, units as given, and the implicit range of a value's precision.</summary>
public sealed class QuantityTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    private const string Ucum = "http://unitsofmeasure.org";

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Ucum_quantities_match_in_any_commensurable_unit(string backend)
    {
        var (store, tag) = (fixture[backend], StoreExtensions.Unique("ucum"));
        var mg = await Post(store, tag, 5m, Ucum, "mg");
        var g = await Post(store, tag, 0.005m, Ucum, "g");
        var ug = await Post(store, tag, 5000m, Ucum, "ug");
        var mg53 = await Post(store, tag, 5.3m, Ucum, "mg");
        var glucose = await Post(store, tag, 5.4m, Ucum, "mmol/L");
        var unitOnly = await Post(store, tag, 5m, null, null, unit: "mg");
        var celsius = await Post(store, tag, 37m, Ucum, "Cel");

        async Task<List<string>> Find(string value) =>
            [.. (await store.SearchAsync($"Observation?_tag=urn:test|{tag}&value-quantity={value}&_count=50")).Entry.Select(e => e.Resource.Id!).Order()];

        // 5 mg to one significant figure is [4.5, 5.5) mg: 5 mg, 0.005 g, 5000 ug and 5.3 mg; not the mg without a system.
        Assert.Equal(new[] { mg, g, ug, mg53 }.Order(), await Find($"5|{Ucum}|mg"));
        Assert.Equal(new[] { mg, g, ug, mg53 }.Order(), await Find($"0.005|{Ucum}|g"));
        // 5.0 mg is [4.95, 5.05): 5.3 mg is outside.
        Assert.Equal(new[] { mg, g, ug }.Order(), await Find($"5.0|{Ucum}|mg"));
        Assert.Equal(new[] { mg, g, ug, mg53 }.Order(), await Find($"gt4|{Ucum}|mg"));
        Assert.Equal([mg53], await Find($"gt5.1|{Ucum}|mg"));
        Assert.Equal([mg53], await Find($"gt0.0051|{Ucum}|g"));
        Assert.Empty(await Find($"lt0.004|{Ucum}|g"));
        Assert.Equal([glucose], await Find($"5.4|{Ucum}|mmol/L"));
        Assert.Equal([glucose], await Find($"5400|{Ucum}|umol/L"));
        Assert.Equal([glucose], await Find($"0.0054|{Ucum}|mol/L"));
        Assert.Empty(await Find($"5.4|{Ucum}|mg"));
        // Units as given: the code without a system matches the stored code or unit text.
        Assert.Equal(new[] { mg, mg53, unitOnly }.Order(), await Find("5||mg"));
        // No linear canonical form (Celsius has an offset): matched as given.
        Assert.Equal([celsius], await Find($"37|{Ucum}|Cel"));
        Assert.Equal(400, (await store.Send("GET", $"Observation?value-quantity=five|{Ucum}|mg")).Status);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Composite_quantity_components_use_canonical_units(string backend)
    {
        var (store, tag) = (fixture[backend], StoreExtensions.Unique("ucumc"));
        var grams = await Post(store, tag, 0.0973m, Ucum, "g/dL");
        var url = $"Observation?_tag=urn:test|{tag}&code-value-quantity=http://loinc.org|2339-0$";
        Assert.Equal([grams], (await store.SearchAsync(url + $"97.3|{Ucum}|mg/dL")).Entry.Select(e => e.Resource.Id!));
        Assert.Equal([grams], (await store.SearchAsync(url + $"ge0.9|{Ucum}|g/L")).Entry.Select(e => e.Resource.Id!));
        Assert.Empty((await store.SearchAsync(url + $"gt1|{Ucum}|g/L")).Entry);
    }

    [Theory]
    [InlineData("100", 99.5, 100.5)]
    [InlineData("100.0", 99.95, 100.05)]
    [InlineData("1e2", 50, 150)]
    [InlineData("1.0e2", 95, 105)]
    [InlineData("5.4e-3", 0.00535, 0.00545)]
    public void Implicit_range_follows_significant_figures(string text, double low, double high)
    {
        var value = decimal.Parse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture);
        var range = Indexing.ResourceIndexer.PrecisionRange(value, text);
        Assert.Equal(low, range.Low, 9);
        Assert.Equal(high, range.High, 9);
    }

    private static async Task<string> Post(FhirStore store, string tag, decimal value, string? system, string? code, string? unit = null)
    {
        var observation = new Observation
        {
            Meta = new Meta { Tag = [new Coding("urn:test", tag)] },
            Status = ObservationStatus.Final,
            Code = new CodeableConcept("http://loinc.org", "2339-0"),
            Value = new Quantity { Value = value, System = system, Code = code, Unit = unit ?? code },
        };
        var response = await store.Send("POST", "Observation", observation);
        Assert.True(response.Status == 201, StoreExtensions.Describe(response));
        return response.Id!;
    }
}
