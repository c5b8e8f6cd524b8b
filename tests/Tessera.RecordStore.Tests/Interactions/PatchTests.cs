using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Interactions;

public class PatchTests(StoreFixture stores) : IClassFixture<StoreFixture>
{
    private static async Task<string> CreatePatientAsync(FhirStore store)
    {
        var created = await store.Send("POST", "Patient", new Patient
        {
            Name = [new HumanName { Family = "Patch", Given = ["Alice"] }],
            Gender = AdministrativeGender.Female,
            Identifier = [new Identifier("urn:a", "1"), new Identifier("urn:b", "2")],
        });
        return created.Id!;
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Json_patch_changes_the_resource_and_adds_a_version(string backend)
    {
        var store = stores[backend];
        var id = await CreatePatientAsync(store);
        var patch = """[{"op":"replace","path":"/name/0/family","value":"Patched"},{"op":"add","path":"/birthDate","value":"1970-01-01"},{"op":"test","path":"/gender","value":"female"}]""";
        var response = await store.Send("PATCH", $"Patient/{id}", adjust: r => r with { JsonPatch = patch });
        Assert.True(response.Status == 200, StoreExtensions.Describe(response));
        Assert.Equal(2, response.Version);
        var patient = (await store.Send("GET", $"Patient/{id}")).Body<Patient>();
        Assert.Equal("Patched", patient.Name[0].Family);
        Assert.Equal("1970-01-01", patient.BirthDate);

        var failedTest = await store.Send("PATCH", $"Patient/{id}", adjust: r => r with { JsonPatch = """[{"op":"test","path":"/gender","value":"male"}]""" });
        Assert.Equal(422, failedTest.Status);
        var invalidResult = await store.Send("PATCH", $"Patient/{id}", adjust: r => r with { JsonPatch = """[{"op":"add","path":"/shoeSize","value":9}]""" });
        Assert.Equal(400, invalidResult.Status);
        Assert.Equal(2, (await store.Send("GET", $"Patient/{id}")).Version);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Fhirpath_patch_supports_add_replace_delete_insert_move(string backend)
    {
        var store = stores[backend];
        var id = await CreatePatientAsync(store);
        Parameters.ParameterComponent Op(string type, string path, params (string Name, DataType Value)[] parts)
        {
            var op = new Parameters.ParameterComponent { Name = "operation" };
            op.Part.Add(new Parameters.ParameterComponent { Name = "type", Value = new Code(type) });
            op.Part.Add(new Parameters.ParameterComponent { Name = "path", Value = new FhirString(path) });
            foreach (var (name, value) in parts)
            {
                op.Part.Add(new Parameters.ParameterComponent { Name = name, Value = value });
            }

            return op;
        }

        var patch = new Parameters
        {
            Parameter =
            [
                Op("add", "Patient", ("name", new FhirString("birthDate")), ("value", new Date("1980-05-06"))),
                Op("replace", "Patient.gender", ("value", new Code("other"))),
                Op("delete", "Patient.identifier.where(system='urn:a')"),
                Op("insert", "Patient.identifier", ("index", new Integer(0)), ("value", new Identifier("urn:c", "3"))),
                Op("move", "Patient.identifier", ("source", new Integer(1)), ("destination", new Integer(0))),
            ],
        };
        var response = await store.Send("PATCH", $"Patient/{id}", patch);
        Assert.True(response.Status == 200, StoreExtensions.Describe(response));
        var patient = (await store.Send("GET", $"Patient/{id}")).Body<Patient>();
        Assert.Equal("1980-05-06", patient.BirthDate);
        Assert.Equal(AdministrativeGender.Other, patient.Gender);
        Assert.Equal(["urn:b", "urn:c"], patient.Identifier.Select(i => i.System));
    }
}
