using Hl7.Fhir.Model;
using Microsoft.Extensions.Time.Testing;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Governance.Tests.BreakGlass;

/// <summary>
/// Break-glass: refused without a reason or to non-clinical roles; granted for a limited time; audited with purpose
/// BTG; and notified — in the same transaction — to the person's GP practice, the region's IG lead and the IG lead of
/// the clinician's own organisation, with a Communication the IG lead finds by its tag.
/// </summary>
public sealed class BreakGlassTests
{
    private static async System.Threading.Tasks.Task PutAsync(FhirStore store, Resource resource)
    {
        var response = await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"{resource.TypeName}/{resource.Id}", Resource = resource });
        Assert.True(response.Status is 200 or 201, $"{resource.TypeName}/{resource.Id}: {response.Status}");
    }

    private static Parameters Ask(string reason, int? minutes = null)
    {
        var parameters = GovernedStores.Reason(reason);
        if (minutes is { } m)
        {
            parameters.Add("minutes", new Integer(m));
        }

        return parameters;
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Break_glass_grants_for_a_time_and_notifies_the_gp_and_ig_leads_in_its_transaction(string backend)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync(new GovernanceOptions { IgLeadRecipient = "Practitioner/p-ig-region", Clock = clock });
        await PutAsync(store, new Organization { Id = "org-a" });
        await PutAsync(store, new Organization { Id = "org-b" });
        await PutAsync(store, new PractitionerRole { Id = "org-a-ig-lead", Active = true, Organization = new ResourceReference(Callers.OrgA), Code = [new CodeableConcept("urn:tessera:role", "ig-lead")] });
        await PutAsync(store, new PractitionerRole { Id = "org-b-ig-lead", Active = true, Organization = new ResourceReference(Callers.OrgB), Code = [new CodeableConcept("urn:tessera:role", "ig-lead")] });
        await PutAsync(store, new Patient { Id = "pb", GeneralPractitioner = [new ResourceReference(Callers.OrgB)] });
        await PutAsync(store, new Observation { Id = "pb-obs", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Patient/pb") });

        Assert.Equal(403, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pb"))).Status);
        Assert.Equal(403, (await store.ExecuteAsync(GovernedStores.Request(Callers.Admin, "POST", "Patient/pb/$break-glass", Ask("Unconscious in A&E, no history")))).Status);
        Assert.Equal(400, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "POST", "Patient/pb/$break-glass", Ask("urgent")))).Status);
        Assert.Equal(400, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "POST", "Patient/pb/$break-glass", Ask("Unconscious in A&E, no history", 10_000)))).Status);
        Assert.Equal(0, (await store.CountByTypeAsync()).GetValueOrDefault("Communication"));

        var granted = await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "POST", "Patient/pb/$break-glass", Ask("Unconscious in A&E, no history", 30)));
        Assert.Equal(200, granted.Status);
        var answer = (Parameters)granted.Resource!;
        var expected = new[] { Callers.OrgB, "Practitioner/p-ig-region", "PractitionerRole/org-a-ig-lead" };
        Assert.Equal(expected, answer.Parameter.Where(p => p.Name == "notified").Select(p => ((ResourceReference)p.Value).Reference));
        var notice = (Communication)FhirStore.Materialise(await store.ExecuteAsync(FhirRequest.FromUrl("GET", ((ResourceReference)answer.Parameter.First(p => p.Name == "notification").Value).Reference)));
        Assert.Equal(expected, notice.Recipient.Select(r => r.Reference));
        Assert.Equal("Patient/pb", notice.Subject.Reference);
        Assert.Equal("Practitioner/p-gp", notice.Sender.Reference);
        Assert.Equal(RequestPriority.Urgent, notice.Priority);
        Assert.Contains(notice.Meta.Tag, t => t.System == "urn:tessera:governance" && t.Code == "break-glass");
        Assert.Contains("Unconscious in A&E", ((FhirString)notice.Payload[0].Content).Value, StringComparison.Ordinal);

        // The grant opens the whole record; the IG lead finds the notification by its tag; the audit says BTG.
        Assert.Equal(200, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pb"))).Status);
        Assert.Equal(200, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Observation/pb-obs"))).Status);
        var tagged = await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", "Communication?_tag=urn:tessera:governance|break-glass"));
        Assert.Equal([notice.Id], ((Bundle)tagged.Resource!).Entry.Select(e => e.Resource.Id));
        await governance.Audit.FlushAsync();
        var audit = await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", "AuditEvent?patient=pb&_count=100"));
        var glass = Assert.Single(((Bundle)audit.Resource!).Entry.Select(e => (AuditEvent)e.Resource), e => e.Subtype.Any(s => s.Code == "break-glass"));
        Assert.Equal("BTG", glass.PurposeOfEvent[0].Coding[0].Code);
        Assert.Equal(AuditEvent.AuditEventOutcome.N0, glass.Outcome);
        Assert.True((await governance.VerifyAuditAsync()).Intact);

        // Time-limited: after 30 minutes the record is closed again.
        clock.Advance(TimeSpan.FromMinutes(31));
        Assert.Equal(403, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pb"))).Status);
    }
}
