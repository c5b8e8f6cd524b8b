using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>PATCH with JSON Patch and with FHIRPath Patch (FHIR R4 3.1.0.5).</summary>
public class PatchContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    private const string FhirPathPatch = """
        {"resourceType":"Parameters","parameter":[
          {"name":"operation","part":[
            {"name":"type","valueCode":"replace"},
            {"name":"path","valueString":"Patient.name[0].family"},
            {"name":"value","valueString":"FhirPathPatched"}]},
          {"name":"operation","part":[
            {"name":"type","valueCode":"add"},
            {"name":"path","valueString":"Patient"},
            {"name":"name","valueString":"birthDate"},
            {"name":"value","valueDate":"1980-05-06"}]}]}
        """;

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Json_patch_makes_a_new_version(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("BeforePatch"))).Id;
        const string patch = """[{"op":"replace","path":"/name/0/family","value":"JsonPatched"},{"op":"add","path":"/active","value":true}]""";

        var patched = await client.SendAsync("PATCH", $"/fhir/Patient/{id}", patch, FhirHttp.JsonPatch);

        Assert.True(patched.Status == 200, patched.ToString());
        Assert.Equal("W/\"2\"", patched.ETag);
        Assert.Equal("JsonPatched", Family(patched.Json));
        Assert.True(patched.Json["active"]!.GetValue<bool>());
        var read = await client.FhirGetAsync($"/fhir/Patient/{id}");
        Assert.Equal("JsonPatched", Family(read.Json));
        Assert.Equal("2", read.Json["meta"]!["versionId"]!.GetValue<string>());
        var history = Entries((await client.FhirGetAsync($"/fhir/Patient/{id}/_history")).Json);
        Assert.Equal("PATCH", history[0]["request"]!["method"]!.GetValue<string>());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Fhirpath_patch_makes_a_new_version(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("BeforeFhirPath"))).Id;

        var patched = await client.SendAsync("PATCH", $"/fhir/Patient/{id}", FhirPathPatch, FhirHttp.FhirJson);

        Assert.True(patched.Status == 200, patched.ToString());
        Assert.Equal("W/\"2\"", patched.ETag);
        Assert.Equal("FhirPathPatched", Family(patched.Json));
        Assert.Equal("1980-05-06", patched.Json["birthDate"]!.GetValue<string>());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Patch_honours_if_match(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("PatchMatch"))).Id;
        const string patch = """[{"op":"replace","path":"/name/0/family","value":"PatchMatch2"}]""";
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.SendAsync("PATCH", $"/fhir/Patient/{id}", patch, FhirHttp.JsonPatch, ("If-Match", "W/\"7\"")), 412);
        Assert.Equal(before, await client.WriteFingerprintAsync());
        Assert.Equal(200, (await client.SendAsync("PATCH", $"/fhir/Patient/{id}", patch, FhirHttp.JsonPatch, ("If-Match", "W/\"1\""))).Status);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Conditional_patch_patches_the_one_match(string backend)
    {
        var client = hosts[backend];
        var system = "urn:test:" + Unique();
        var id = (await client.CreateAsync("Patient", Patient("CondPatch", system, "p"))).Id;
        const string patch = """[{"op":"replace","path":"/name/0/family","value":"CondPatched"}]""";

        var patched = await client.SendAsync("PATCH", $"/fhir/Patient?identifier={Uri.EscapeDataString(system + "|p")}", patch, FhirHttp.JsonPatch);

        Assert.True(patched.Status == 200, patched.ToString());
        Assert.Equal(id, patched.Id);
        Assert.Equal("CondPatched", Family(patched.Json));
    }

    public static TheoryData<string, string, string, int> BadPatches()
    {
        var data = new TheoryData<string, string, string, int>();
        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            data.Add(backend, "not JSON", FhirHttp.JsonPatch, 400);
            data.Add(backend, """{"op":"add"}""", FhirHttp.JsonPatch, 400);
            data.Add(backend, """[{"op":"explode","path":"/active"}]""", FhirHttp.JsonPatch, 400);
            data.Add(backend, """[{"op":"add","value":true}]""", FhirHttp.JsonPatch, 400);
            data.Add(backend, """[{"op":"remove","path":"/nothing/here"}]""", FhirHttp.JsonPatch, 422);
            data.Add(backend, """[{"op":"test","path":"/name/0/family","value":"Other"}]""", FhirHttp.JsonPatch, 422);
            data.Add(backend, """[{"op":"add","path":"/foo","value":1}]""", FhirHttp.JsonPatch, 400);
            data.Add(backend, """[{"op":"replace","path":"/id","value":"other-id"}]""", FhirHttp.JsonPatch, 422);
            data.Add(backend, """[{"op":"replace","path":"/resourceType","value":"Observation"}]""", FhirHttp.JsonPatch, 400);
            data.Add(backend, """{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"replace"},{"name":"path","valueString":"Patient.nothing"},{"name":"value","valueString":"x"}]}]}""", FhirHttp.FhirJson, 422);
            data.Add(backend, """{"resourceType":"Parameters","parameter":[{"name":"operation","part":[{"name":"type","valueCode":"explode"},{"name":"path","valueString":"Patient"}]}]}""", FhirHttp.FhirJson, 400);
            data.Add(backend, Patient("NotAPatch"), FhirHttp.FhirJson, 400);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BadPatches))]
    public async Task A_bad_patch_is_a_4xx_outcome_that_writes_nothing(string backend, string patch, string contentType, int status)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("BadPatch"))).Id;
        var before = await client.WriteFingerprintAsync();

        var result = await client.SendAsync("PATCH", $"/fhir/Patient/{id}", patch, contentType);

        AssertOutcome(result, status);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    public static TheoryData<string, string> MistypedJsonPatches()
    {
        var data = new TheoryData<string, string>();
        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            data.Add(backend, """[{"op":1,"path":"/active","value":true}]""");
            data.Add(backend, """[{"op":"add","path":["active"],"value":true}]""");
            data.Add(backend, """[{"op":"move","from":{},"path":"/active"}]""");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(MistypedJsonPatches))]
    public async Task A_json_patch_with_mistyped_members_is_400_not_500(string backend, string patch)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("MistypedPatch"))).Id;
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.SendAsync("PATCH", $"/fhir/Patient/{id}", patch, FhirHttp.JsonPatch), 400);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Patching_what_is_not_there_is_404_and_what_was_deleted_is_410(string backend)
    {
        var client = hosts[backend];
        const string patch = """[{"op":"add","path":"/active","value":true}]""";
        AssertOutcome(await client.SendAsync("PATCH", $"/fhir/Patient/{Unique()}", patch, FhirHttp.JsonPatch), 404);

        var id = (await client.CreateAsync("Patient", Patient("PatchDeleted"))).Id;
        Assert.Equal(204, (await client.FhirDeleteAsync($"/fhir/Patient/{id}")).Status);
        AssertOutcome(await client.SendAsync("PATCH", $"/fhir/Patient/{id}", patch, FhirHttp.JsonPatch), 410);
    }
}
