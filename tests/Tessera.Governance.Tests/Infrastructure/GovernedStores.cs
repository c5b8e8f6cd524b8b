using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Governance.Tests.Infrastructure;

/// <summary>One governed store per backend, seeded with the generated region (and the gp's break-glass grants).</summary>
public sealed class GovernedStores : IAsyncLifetime
{
    private readonly Dictionary<string, (TestDatabase Database, FhirStore Store, StoreGovernance Governance, Infrastructure.Region Region)> _stores = [];

    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    public Infrastructure.Region Region(string backend) => _stores[backend].Region;

    public FhirStore Store(string backend) => _stores[backend].Store;

    public StoreGovernance Governance(string backend) => _stores[backend].Governance;

    public async System.Threading.Tasks.Task InitializeAsync()
    {
        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            var db = await TestDatabase.CreateAsync(backend);
            var store = await FhirStore.OpenAsync(db.Location);
            var governance = await store.AddGovernanceAsync(new GovernanceOptions { IgLeadRecipient = "Practitioner/p-ig" });
            var region = new Infrastructure.Region();
            await region.SeedAsync(store);
            foreach (var consent in Enum.GetValues<ConsentState>())
            {
                var patient = Infrastructure.Region.PatientId(Relation.BreakGlass, consent);
                var response = await store.ExecuteAsync(Request(Callers.Gp, "POST", $"Patient/{patient}/$break-glass", Reason()));
                Assert.Equal(200, response.Status);
                var notice = ((Parameters)response.Resource!).Parameter.First(p => p.Name == "notification").Value as ResourceReference;
                region.Add(new Item("Communication", notice!.Reference["Communication/".Length..], patient, BreakGlassNotice: true));
            }

            _stores[backend] = (db, store, governance, region);
        }
    }

    public static Parameters Reason(string reason = "Unconscious in A&E, no history available") =>
        new() { Parameter = [new Parameters.ParameterComponent { Name = "reason", Value = new FhirString(reason) }] };

    public static FhirRequest Request(TestCaller caller, string method, string url, Resource? body = null) =>
        FhirRequest.FromUrl(method, url, body) with { Principal = caller.Principal(), ClientAddress = "192.0.2.10" };

    public async System.Threading.Tasks.Task DisposeAsync()
    {
        foreach (var (db, store, governance, _) in _stores.Values)
        {
            await governance.DisposeAsync();
            await store.DisposeAsync();
            await db.DisposeAsync();
        }
    }
}
