using Hl7.Fhir.Model;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Bulk;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Governance.Tests.Labels;

/// <summary>
/// Consent on sensitive categories decides each version by the labels it and later versions carry, also for versions
/// written before governance was added to the store (their labels are read from the stored JSON when it is).
/// </summary>
public sealed class VersionLabelTests
{
    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Versions_stored_before_governance_keep_their_own_labels(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using (var plain = await FhirStore.OpenAsync(db.Location))
        {
            await PutAsync(plain, new Patient { Id = "pv", GeneralPractitioner = [new ResourceReference(Callers.OrgA)] });
            await PutAsync(plain, new Hl7.Fhir.Model.Consent
            {
                Id = "pv-consent",
                Status = Hl7.Fhir.Model.Consent.ConsentState.Active,
                Scope = new CodeableConcept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
                Category = [new CodeableConcept("http://loinc.org", "59284-0")],
                Patient = new ResourceReference("Patient/pv"),
                Provision = new Hl7.Fhir.Model.Consent.provisionComponent { Type = Hl7.Fhir.Model.Consent.ConsentProvisionType.Deny, SecurityLabel = [new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", Region.PsyLabel)] },
            });
            await PutAsync(plain, Condition("dropped", Region.PsyLabel));
            await PutAsync(plain, Condition("dropped", null));
            await PutAsync(plain, Condition("added", null));
            await PutAsync(plain, Condition("added", Region.PsyLabel));
            await PutAsync(plain, Condition("plain", null));
            await PutAsync(plain, Condition("plain", null));
        }

        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync();
        async Task<int[]> Statuses(params string[] urls)
        {
            var statuses = new List<int>();
            foreach (var url in urls)
            {
                statuses.Add((await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", url))).Status);
            }

            return [.. statuses];
        }

        // The label dropped by version 2 still hides version 1; a label added by version 2 hides version 1 as well.
        Assert.Equal(new[] { 200, 403, 200 }, await Statuses("Condition/dropped", "Condition/dropped/_history/1", "Condition/dropped/_history/2"));
        Assert.Equal(new[] { 403, 403, 403 }, await Statuses("Condition/added", "Condition/added/_history/1", "Condition/added/_history/2"));
        Assert.Equal(new[] { 200, 200, 200 }, await Statuses("Condition/plain", "Condition/plain/_history/1", "Condition/plain/_history/2"));

        var history = await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Condition/_history"));
        Assert.Equal(200, history.Status);
        var versions = ((Bundle)history.Resource!).Entry.Select(e => $"{e.Resource.Id}/{e.Resource.Meta.VersionId}").Order(StringComparer.Ordinal);
        Assert.Equal(["dropped/2", "plain/1", "plain/2"], versions);

        // Versions written under governance are kept the same way.
        await PutAsync(store, Condition("later", Region.PsyLabel));
        await PutAsync(store, Condition("later", null));
        Assert.Equal(new[] { 200, 403 }, await Statuses("Condition/later/_history/2", "Condition/later/_history/1"));

        // And so are versions written by a bulk load (its observers are told of a batch at once).
        await store.BulkLoadAsync(Bulk(Condition("bulk", Region.PsyLabel)));
        await store.BulkLoadAsync(Bulk(Condition("bulk", null)));
        Assert.Equal(new[] { 200, 403 }, await Statuses("Condition/bulk/_history/2", "Condition/bulk/_history/1"));
    }

    private static async IAsyncEnumerable<BulkItem> Bulk(Resource resource)
    {
        await System.Threading.Tasks.Task.Yield();
        var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
        bundle.Entry.Add(new Bundle.EntryComponent { Resource = resource, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{resource.TypeName}/{resource.Id}" } });
        yield return new BulkItem(bundle, resource.Id!);
    }

    private static Condition Condition(string id, string? label) => new()
    {
        Id = id,
        Subject = new ResourceReference("Patient/pv"),
        Meta = new Meta { Source = "Organization/org-b", Security = label is null ? [] : [new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", label)] },
        Code = new CodeableConcept("http://snomed.info/sct", "35489007", "Depressive disorder"),
    };

    private static async System.Threading.Tasks.Task PutAsync(FhirStore store, Resource resource)
    {
        var response = await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"{resource.TypeName}/{resource.Id}", Resource = resource });
        Assert.True(response.Status is 200 or 201, $"{resource.TypeName}/{resource.Id}: {response.Status}");
    }
}
