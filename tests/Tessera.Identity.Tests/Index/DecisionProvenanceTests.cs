using System.Security.Claims;
using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.Identity.Review;
using Tessera.Identity.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Claim = System.Security.Claims.Claim;
using FhirTask = Hl7.Fhir.Model.Task;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Tests.Index;

/// <summary>Every merge, unmerge, link and steward decision names who made it in its Provenance.</summary>
public sealed class DecisionProvenanceTests(IndexFixture fixture) : IClassFixture<IndexFixture>
{
    private static ClaimsPrincipal Caller(string sub, string? fhirUser, string role, string? org = null)
    {
        var claims = new List<Claim> { new("sub", sub), new("client_id", "steward-app"), new("tessera_role", role) };
        if (fhirUser is not null)
        {
            claims.Add(new Claim("fhirUser", fhirUser));
        }

        if (org is not null)
        {
            claims.Add(new Claim("tessera_org", org));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, "test"));
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task Merge_and_unmerge_name_the_caller_from_the_token_or_the_internal_caller_or_the_index(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var a = await store.PutAsync(People.Patient(IndexFixture.GpSystem, "Agnes", People.Surname(), "1931-02-11"));
        var b = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Mabel", People.Surname(), "1972-12-01"));
        var c = await store.PutAsync(People.Patient(IndexFixture.HospitalSystem, "Ivy", People.Surname(), "1988-06-21"));
        await index.CatchUpAsync();
        var steward = Caller("u-123", "Practitioner/steward-7", "ig-lead", "Organization/trust-1");

        var merge = People.Parameters(("source-patient", new ResourceReference($"Patient/{b.Id}")), ("target-patient", new ResourceReference($"Patient/{a.Id}")));
        Assert.Equal(200, (await Send(store, "POST", "Patient/$merge", merge, steward)).Status);
        var merged = Assert.Single(await ProvenanceAsync(store, b.Id, "merge"));
        var agent = Assert.Single(merged.Agent);
        Assert.Equal("Practitioner/steward-7", agent.Who.Reference);
        Assert.Equal("Organization/trust-1", agent.OnBehalfOf.Reference);
        Assert.Equal("ig-lead", agent.Role.Single().Text);
        Assert.Equal("author", agent.Type.Coding[0].Code);

        // A caller without fhirUser (a system client) is named by its subject.
        Assert.Equal(200, (await Send(store, "POST", $"Patient/{b.Id}/$unmerge", People.Parameters(), Caller("svc-9", null, "system"))).Status);
        var unmerged = Assert.Single(await ProvenanceAsync(store, b.Id, "unmerge"));
        Assert.Equal((IndexAgents.CallerSystem, "svc-9"), (unmerged.Agent[0].Who.Identifier.System, unmerged.Agent[0].Who.Identifier.Value));

        // An internal caller (the HL7 feed) names itself and the message; a caller with a token may not.
        var sender = new ResourceReference { Type = "Device", Identifier = new Identifier("urn:tessera:hl7:source", "PAS|TRUST"), Display = "Hospital PAS" };
        var message = new ResourceReference { Identifier = new Identifier("urn:tessera:hl7:message:PAS", "MSG0001") };
        var internalMerge = People.Parameters(("source-patient", new ResourceReference($"Patient/{c.Id}")), ("target-patient", new ResourceReference($"Patient/{a.Id}")), ("tessera-agent", sender), ("tessera-source", message));
        Assert.Equal(400, (await Send(store, "POST", "Patient/$merge", internalMerge, steward)).Status);
        Assert.Equal(200, (await Send(store, "POST", "Patient/$merge", internalMerge, null)).Status);
        var fromFeed = Assert.Single(await ProvenanceAsync(store, c.Id, "merge"));
        Assert.Equal("PAS|TRUST", fromFeed.Agent[0].Who.Identifier.Value);
        Assert.Equal("MSG0001", fromFeed.Entity.Single().What.Identifier.Value);

        // Nobody named: the index itself.
        Assert.Equal(200, (await Send(store, "POST", $"Patient/{c.Id}/$unmerge", People.Parameters(), null)).Status);
        var byIndex = Assert.Single(await ProvenanceAsync(store, c.Id, "unmerge"));
        Assert.Equal(("assembler", "Tessera master patient index"), (byIndex.Agent[0].Type.Coding[0].Code, byIndex.Agent[0].Who.Display));
    }

    [Theory]
    [MemberData(nameof(IndexFixture.Backends), MemberType = typeof(IndexFixture))]
    public async Task A_stewards_decisions_are_recorded_as_theirs_whatever_owner_the_body_claims(string backend)
    {
        var (store, index) = (fixture.Store(backend), fixture.Index(backend));
        var steward = Caller("u-456", "Practitioner/steward-9", "ig-lead");

        var (_, hospital) = await MasterIndexTests.ProbablePairAsync(store, index);
        var task = Assert.Single(await MasterIndexTests.OpenReviewsAsync(store, hospital.Id));
        Assert.Equal(400, (await store.ExecuteAsync(new FhirRequest { Method = "PATCH", Path = $"Task/{task.Id}", JsonPatch = """[{"op":"replace","path":"/status","value":"completed"}]""", Principal = steward })).Status);
        await DecideAsync(store, task, ReviewTasks.SamePerson, steward);
        await index.CatchUpAsync();
        Assert.Equal("Practitioner/steward-9", (await store.ReadAsync<FhirTask>($"Task/{task.Id}")).Owner.Reference);
        var link = Assert.Single(await ProvenanceAsync(store, hospital.Id, "link"));
        Assert.Equal("Practitioner/steward-9", link.Agent[0].Who.Reference);

        var (_, other) = await MasterIndexTests.ProbablePairAsync(store, index);
        var second = Assert.Single(await MasterIndexTests.OpenReviewsAsync(store, other.Id));
        await DecideAsync(store, second, ReviewTasks.DifferentPerson, steward);
        await index.CatchUpAsync();
        var verified = Assert.Single(await ProvenanceAsync(store, other.Id, "verify"));
        Assert.Equal("Practitioner/steward-9", verified.Agent[0].Who.Reference);
        Assert.Equal($"Task/{second.Id}", verified.Entity.Single().What.Reference);
    }

    private static async Task DecideAsync(FhirStore store, FhirTask task, string decision, ClaimsPrincipal steward)
    {
        task.Status = FhirTask.TaskStatus.Completed;
        task.BusinessStatus = new CodeableConcept(PatientDemographics.TagSystem, decision);
        task.Owner = new ResourceReference("Practitioner/someone-else");
        Assert.Equal(200, (await Send(store, "PUT", $"Task/{task.Id}", task, steward)).Status);
    }

    private static Task<FhirResponse> Send(FhirStore store, string method, string url, Resource? body, ClaimsPrincipal? caller) =>
        store.ExecuteAsync(FhirRequest.FromUrl(method, url, body) with { Principal = caller });

    private static async Task<List<Provenance>> ProvenanceAsync(FhirStore store, string patientId, string activity) =>
        (await MasterIndexTests.SearchAsync<Provenance>(store, $"Provenance?target=Patient/{patientId}")).Where(p => p.Activity.Coding[0].Code == activity).ToList();
}
