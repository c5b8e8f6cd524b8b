using Hl7.Fhir.Model;
using Tessera.Governance.Audit;
using Tessera.Governance.Policy;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Governance.Tests.Policy;

/// <summary>
/// A search pinned to one patient is filtered on what the policy's tests of that patient answer. On PostgreSQL the
/// filter is settled on the answers last found (for that patient, or else for the last patient asked about) and the
/// tests run in the same round trip as the search, which is run again when they answer otherwise: so a change of
/// consent or relationship between two searches must show in the second at once, on pages, counts and bundle entries.
/// </summary>
public sealed class PinnedSearchTests
{
    internal const string Registered = "pin-registered";
    internal const string Stranger = "pin-stranger";

    internal static async System.Threading.Tasks.Task PutAsync(FhirStore store, Resource resource)
    {
        var response = await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"{resource.TypeName}/{resource.Id}", Resource = resource });
        Assert.True(response.Status is 200 or 201, $"{resource.TypeName}/{resource.Id}: {response.Status}");
    }

    internal static Patient Person(string id, bool registered) => new()
    {
        Id = id,
        Meta = new Meta { Source = Callers.OrgB },
        GeneralPractitioner = registered ? [new ResourceReference(Callers.OrgA)] : [],
    };

    /// <summary>Two Observations of <paramref name="patient"/>: one recorded by the GP's organisation, one by another.</summary>
    internal static async System.Threading.Tasks.Task RecordAsync(FhirStore store, string patient)
    {
        foreach (var (suffix, source) in new[] { ("own", Callers.OrgA), ("other", Callers.OrgB) })
        {
            await PutAsync(store, new Observation
            {
                Id = $"{patient}-{suffix}",
                Meta = new Meta { Source = source },
                Status = ObservationStatus.Final,
                Code = new CodeableConcept("http://loinc.org", "8867-4"),
                Subject = new ResourceReference($"Patient/{patient}"),
            });
        }
    }

    /// <summary>The two organisations, a patient registered at the GP's (<see cref="Registered"/>) and one who is not (<see cref="Stranger"/>), each with both Observations.</summary>
    internal static async System.Threading.Tasks.Task SeedAsync(FhirStore store)
    {
        await PutAsync(store, new Organization { Id = "org-a" });
        await PutAsync(store, new Organization { Id = "org-b" });
        await PutAsync(store, Person(Registered, registered: true));
        await PutAsync(store, Person(Stranger, registered: false));
        await RecordAsync(store, Registered);
        await RecordAsync(store, Stranger);
    }

    /// <summary>The ids of both of a patient's Observations (<see cref="RecordAsync"/>), in the order <see cref="FoundAsync"/> gives them.</summary>
    internal static string[] Both(string patient) => [$"{patient}-other", $"{patient}-own"];

    internal static Consent OptOut(string patient) => new()
    {
        Id = patient + "-optout",
        Status = Consent.ConsentState.Active,
        Scope = new CodeableConcept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
        Category = [new CodeableConcept("http://loinc.org", "59284-0")],
        Patient = new ResourceReference($"Patient/{patient}"),
        PolicyRule = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ActCode", "OPTOUT"),
        Provision = new Consent.provisionComponent { Type = Consent.ConsentProvisionType.Deny },
    };

    /// <summary>The ids the GP's search finds, read as a page, as a count and as an entry of a batch and a transaction.</summary>
    internal static async Task<string[]> FoundAsync(FhirStore store, string patient)
    {
        var url = $"Observation?patient={patient}";
        var page = await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", url));
        Assert.Equal(200, page.Status);
        var bundle = (Bundle)page.Resource!;
        var ids = bundle.Entry.Select(e => e.Resource.Id!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(ids.Length, bundle.Total);

        var count = await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", url + "&_summary=count"));
        Assert.Equal(ids.Length, ((Bundle)count.Resource!).Total);

        foreach (var type in new[] { Bundle.BundleType.Batch, Bundle.BundleType.Transaction })
        {
            var request = new Bundle { Type = type, Entry = [new Bundle.EntryComponent { Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.GET, Url = url } }] };
            var response = await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "POST", "", request));
            Assert.Equal(200, response.Status);
            var inner = (Bundle)((Bundle)response.Resource!).Entry.Single().Resource;
            Assert.Equal(ids, inner.Entry.Select(e => e.Resource.Id).Order(StringComparer.Ordinal));
        }

        return ids;
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task A_change_of_consent_or_relationship_shows_in_the_next_pinned_search(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync(new GovernanceOptions { IgLeadRecipient = "Practitioner/p-ig" });
        await SeedAsync(store);

        // Each search repeated: the second finds its answers known for the patient.
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(Both(Registered), await FoundAsync(store, Registered));
        }

        // The latest answers (registered) are the guess for a patient not asked about before, and are wrong here.
        Assert.Empty(await FoundAsync(store, Stranger));
        Assert.Equal(Both(Registered), await FoundAsync(store, Registered));

        // An opt-out: only what the GP's own organisation recorded, from the very next search.
        await PutAsync(store, OptOut(Registered));
        Assert.Equal([$"{Registered}-own"], await FoundAsync(store, Registered));

        // Registered at the GP's practice: the whole record, though the answers known for them said no relationship.
        await PutAsync(store, Person(Stranger, registered: true));
        Assert.Equal(Both(Stranger), await FoundAsync(store, Stranger));

        // The opt-out withdrawn, the registration ended: each shows at once.
        Assert.True((await store.ExecuteAsync(new FhirRequest { Method = "DELETE", Path = $"Consent/{Registered}-optout" })).Status is 200 or 204);
        Assert.Equal(Both(Registered), await FoundAsync(store, Registered));
        await PutAsync(store, Person(Stranger, registered: false));
        Assert.Empty(await FoundAsync(store, Stranger));
    }

    /// <summary>
    /// Speculation is engaged where it is meant to be: once a patient's answers are known, a speculating
    /// <see cref="PatientRows"/> defers the tests (the filter is settled on the guess and the tests travel with the
    /// query), and one that does not speculate runs them.
    /// </summary>
    [Fact]
    public async System.Threading.Tasks.Task Known_answers_defer_the_tests_only_when_speculating()
    {
        await using var db = await TestDatabase.CreateAsync("sqlite");
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync(new GovernanceOptions { IgLeadRecipient = "Practitioner/p-ig" });
        await PutAsync(store, Person(Registered, registered: true));
        var audit = governance.Audit;
        var filter = new GovernancePolicy(audit, new AuditQuery(store, audit)).Decide(new AccessRequest
        {
            Request = FhirRequest.FromUrl("GET", "Observation"),
            Principal = Callers.Gp.Principal(),
            Interaction = AccessInteraction.Search,
            ResourceType = "Observation",
        }).Filter;
        Assert.NotNull(filter?.ForPatient);
        await using var connection = await store.OpenConnectionAsync();
        var key = Registered; // a patient's rows carry the patient's id as their key

        var first = new PatientRows(connection, null, key, "Observation", speculate: true);
        var settled = await filter.ForPatient(first, default);
        Assert.Equal($"({SqlLogic.True})", settled.For("r", "Observation"));

        var plain = new PatientRows(connection, null, key, "Observation");
        await filter.ForPatient(plain, default);
        Assert.Null(plain.Deferred);

        var second = new PatientRows(connection, null, key, "Observation", speculate: true);
        Assert.Equal(settled.For("r", "Observation"), (await filter.ForPatient(second, default)).For("r", "Observation"));
        Assert.NotNull(second.Deferred);
    }
}
