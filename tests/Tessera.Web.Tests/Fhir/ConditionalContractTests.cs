using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>Versioned and conditional interactions (If-Match, If-None-Match, If-None-Exist, Type?criteria) and Prefer.</summary>
public class ConditionalContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Update_with_a_stale_if_match_is_412_and_writes_nothing(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Match"))).Id;
        Assert.Equal(200, (await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Match2", id: id), ("If-Match", "W/\"1\""))).Status);
        var before = await client.WriteFingerprintAsync();

        var stale = await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Stale", id: id), ("If-Match", "W/\"1\""));

        AssertOutcome(stale, 412);
        Assert.Equal(before, await client.WriteFingerprintAsync());
        Assert.Equal("Match2", Family((await client.FhirGetAsync($"/fhir/Patient/{id}")).Json));

        var current = await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Match3", id: id), ("If-Match", "W/\"2\""));
        Assert.True(current.Status == 200, current.ToString());
        Assert.Equal("W/\"3\"", current.ETag);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_malformed_if_match_is_400_naming_the_header(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("BadTag"))).Id;
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("BadTag2", id: id), ("If-Match", "W/\"one\"")), 400, "If-Match");
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Read_with_the_current_etag_in_if_none_match_is_304(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("NotModified"))).Id;

        var notModified = await client.FhirGetAsync($"/fhir/Patient/{id}", ("If-None-Match", "W/\"1\""));
        Assert.Equal(304, notModified.Status);
        Assert.Empty(notModified.Body);
        Assert.Equal("W/\"1\"", notModified.ETag);

        Assert.Equal(200, (await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Modified", id: id))).Status);
        var modified = await client.FhirGetAsync($"/fhir/Patient/{id}", ("If-None-Match", "W/\"1\""));
        Assert.Equal(200, modified.Status);
        Assert.Equal("W/\"2\"", modified.ETag);
        Assert.Equal("Modified", Family(modified.Json));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Conditional_create_with_a_match_answers_200_with_the_existing_resource(string backend)
    {
        var client = hosts[backend];
        var system = "urn:test:" + Unique();
        var first = await client.FhirPostAsync("/fhir/Patient", Patient("Once", system, "1"), ("If-None-Exist", $"identifier={system}|1"));
        Assert.True(first.Status == 201, first.ToString());
        var before = await client.WriteFingerprintAsync();

        var second = await client.FhirPostAsync("/fhir/Patient", Patient("Twice", system, "1"), ("If-None-Exist", $"identifier={system}|1"));

        Assert.True(second.Status == 200, second.ToString());
        Assert.Equal(first.Id, second.Id);
        Assert.Equal("Once", Family(second.Json));
        Assert.Equal("W/\"1\"", second.ETag);
        Assert.Equal(before, await client.WriteFingerprintAsync());
        Assert.Equal(1, await client.CountAsync($"Patient?identifier={system}|1"));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Conditional_create_matching_several_is_412(string backend)
    {
        var client = hosts[backend];
        var family = "Several" + Unique();
        await client.CreateAsync("Patient", Patient(family));
        await client.CreateAsync("Patient", Patient(family));
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.FhirPostAsync("/fhir/Patient", Patient(family), ("If-None-Exist", $"family={family}")), 412);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Conditional_update_creates_then_updates_the_one_match(string backend)
    {
        var client = hosts[backend];
        var system = "urn:test:" + Unique();
        var url = $"/fhir/Patient?identifier={Uri.EscapeDataString(system + "|7")}";

        var created = await client.FhirPutAsync(url, Patient("CondNew", system, "7"));
        Assert.True(created.Status == 201, created.ToString());
        Assert.Equal("W/\"1\"", created.ETag);
        Assert.Matches($"/fhir/Patient/{created.Id}/_history/1$", created.Location);

        var updated = await client.FhirPutAsync(url, Patient("CondUpdated", system, "7"));
        Assert.True(updated.Status == 200, updated.ToString());
        Assert.Equal(created.Id, updated.Id);
        Assert.Equal("W/\"2\"", updated.ETag);
        Assert.Equal(1, await client.CountAsync($"Patient?identifier={system}|7"));

        // A body id that contradicts the match is refused.
        var before = await client.WriteFingerprintAsync();
        AssertOutcome(await client.FhirPutAsync(url, Patient("CondWrongId", system, "7", id: "someone-else")), 400, "Patient.id");
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Conditional_update_matching_several_is_412_and_unknown_criteria_are_400(string backend)
    {
        var client = hosts[backend];
        var family = "CondMany" + Unique();
        await client.CreateAsync("Patient", Patient(family));
        await client.CreateAsync("Patient", Patient(family));
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.FhirPutAsync($"/fhir/Patient?family={family}", Patient(family)), 412);
        AssertOutcome(await client.FhirPutAsync($"/fhir/Patient?no-such-param=1", Patient(family)), 400);
        AssertOutcome(await client.FhirPutAsync("/fhir/Patient", Patient(family)), 400);
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Conditional_delete_removes_the_one_match(string backend)
    {
        var client = hosts[backend];
        var system = "urn:test:" + Unique();
        var id = (await client.CreateAsync("Patient", Patient("CondDelete", system, "x"))).Id;

        var deleted = await client.FhirDeleteAsync($"/fhir/Patient?identifier={Uri.EscapeDataString(system + "|x")}");

        Assert.True(deleted.Status is 200 or 204, deleted.ToString());
        Assert.Equal(410, (await client.FhirGetAsync($"/fhir/Patient/{id}")).Status);
        Assert.Equal(0, await client.CountAsync($"Patient?identifier={system}|x"));

        // No match: nothing to do, not an error.
        var before = await client.WriteFingerprintAsync();
        var none = await client.FhirDeleteAsync($"/fhir/Patient?identifier={Uri.EscapeDataString(system + "|x")}");
        Assert.True(none.Status is 200 or 204, none.ToString());
        Assert.Equal(before, await client.WriteFingerprintAsync());
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Conditional_delete_matching_several_is_412_and_deletes_nothing(string backend)
    {
        var client = hosts[backend];
        var family = "DelMany" + Unique();
        await client.CreateAsync("Patient", Patient(family));
        await client.CreateAsync("Patient", Patient(family));
        var before = await client.WriteFingerprintAsync();

        AssertOutcome(await client.FhirDeleteAsync($"/fhir/Patient?family={family}"), 412);
        Assert.Equal(before, await client.WriteFingerprintAsync());
        Assert.Equal(2, await client.CountAsync($"Patient?family={family}"));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Prefer_return_minimal_gives_an_empty_body_with_the_headers(string backend)
    {
        var client = hosts[backend];

        var created = await client.FhirPostAsync("/fhir/Patient", Patient("Minimal"), ("Prefer", "return=minimal"));

        Assert.True(created.Status == 201, created.ToString());
        Assert.Empty(created.Body);
        Assert.Equal("W/\"1\"", created.ETag);
        Assert.NotNull(created.Location);
        var id = created.Location!.Split('/')[^3];

        var updated = await client.FhirPutAsync($"/fhir/Patient/{id}", Patient("Minimal2", id: id), ("Prefer", "return=minimal"));
        Assert.Equal(200, updated.Status);
        Assert.Empty(updated.Body);
        Assert.Equal("W/\"2\"", updated.ETag);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Prefer_return_representation_gives_the_stored_resource(string backend)
    {
        var client = hosts[backend];

        var created = await client.FhirPostAsync("/fhir/Patient", Patient("Representation"), ("Prefer", "return=representation"));

        Assert.True(created.Status == 201, created.ToString());
        Assert.Equal("Patient", created.ResourceType);
        Assert.Equal("1", created.Json["meta"]!["versionId"]!.GetValue<string>());
        Assert.Equal("Representation", Family(created.Json));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Prefer_return_operation_outcome_gives_an_outcome_body(string backend)
    {
        var client = hosts[backend];

        var created = await client.FhirPostAsync("/fhir/Patient", Patient("Outcome"), ("Prefer", "return=OperationOutcome"));

        Assert.True(created.Status == 201, created.ToString());
        Assert.Equal("OperationOutcome", created.ResourceType);
        Assert.NotEmpty(created.Json["issue"]!.AsArray());
        Assert.DoesNotContain(created.Json["issue"]!.AsArray(), i => i!["severity"]!.GetValue<string>() is "error" or "fatal");
        Assert.Equal("W/\"1\"", created.ETag);
        Assert.NotNull(created.Location);
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Head_answers_headers_without_a_body(string backend)
    {
        var client = hosts[backend];
        var id = (await client.CreateAsync("Patient", Patient("Head"))).Id;

        var head = await client.SendAsync("HEAD", $"/fhir/Patient/{id}");

        Assert.Equal(200, head.Status);
        Assert.Equal("W/\"1\"", head.ETag);
        Assert.Empty(head.Body);
    }
}
