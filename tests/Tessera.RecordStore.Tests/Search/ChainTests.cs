using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Search;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// Chained parameters (forwards, several hops, with a type modifier) and reverse chaining (_has, nested). Chains
/// through a reference that holds one target are tested together on that target; through a repeating reference
/// each chain may be met by a different target, as the specification's own example has it.
/// </summary>
public sealed class ChainTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Chains_through_a_single_reference_are_met_by_that_one_target(string backend)
    {
        var store = fixture[backend];
        var tag = StoreExtensions.Unique();
        var family = StoreExtensions.Unique("fam");
        var older = await Create(store, new Patient { Name = [new HumanName { Family = family }], BirthDate = "1950-03-04" });
        var younger = await Create(store, new Patient { Name = [new HumanName { Family = family + "son" }], BirthDate = "1960-05-06" });
        var first = await Create(store, Observation(tag, older));
        var second = await Create(store, Observation(tag, younger));
        await Create(store, Observation(tag, null));

        var scope = $"_tag=urn:test|{tag}";
        await Finds(store, $"Observation?{scope}&patient.family={family}", first, second);
        await Finds(store, $"Observation?{scope}&patient.family={family}&patient.birthdate=1950", first);
        await Finds(store, $"Observation?{scope}&patient.family={family}son&patient.birthdate=1960", second);
        await Finds(store, $"Observation?{scope}&patient.family={family}son&patient.birthdate=1950");
        await Finds(store, $"Observation?{scope}&subject:Patient.family={family}&subject:Patient.birthdate=lt1955", first);

        // The same chains, each alone and both together, with a third criterion on the observation itself.
        await Finds(store, $"Observation?{scope}&patient.birthdate=ge1950&patient.birthdate=lt1961&code=http://loinc.org|8867-4", first, second);
        await Finds(store, $"Observation?{scope}&patient.birthdate=ge1951&patient.birthdate=lt1961&patient.family={family}", second);

        // A deleted target no longer matches.
        Assert.Equal(204, (await store.Send("DELETE", $"Patient/{younger}")).Status);
        await Finds(store, $"Observation?{scope}&patient.family={family}", first);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Chains_through_a_repeating_reference_may_be_met_by_different_targets(string backend)
    {
        // The specification's example: general-practitioner.name=Joe&general-practitioner.address-state=MN finds a
        // patient cared for by Joe from CA and Jane from MN.
        var store = fixture[backend];
        var joe = StoreExtensions.Unique("joe");
        var jane = StoreExtensions.Unique("jane");
        var fromCalifornia = await Create(store, new Practitioner { Name = [new HumanName { Family = joe }], Address = [new Address { State = "CA" }] });
        var fromMinnesota = await Create(store, new Practitioner { Name = [new HumanName { Family = jane }], Address = [new Address { State = "MN" }] });
        var both = await Create(store, new Patient { GeneralPractitioner = [new ResourceReference($"Practitioner/{fromCalifornia}"), new ResourceReference($"Practitioner/{fromMinnesota}")] });
        var joeOnly = await Create(store, new Patient { GeneralPractitioner = [new ResourceReference($"Practitioner/{fromCalifornia}")] });

        await Finds(store, $"Patient?general-practitioner.name={joe}", both, joeOnly);
        await Finds(store, $"Patient?general-practitioner.name={joe}&general-practitioner.address-state=MN", both);
        await Finds(store, $"Patient?general-practitioner:Practitioner.name={joe}&general-practitioner:Practitioner.address-state=CA", both, joeOnly);
        await Finds(store, $"Patient?general-practitioner.name={jane}&general-practitioner.address-state=CA", both);
        await Finds(store, $"Patient?general-practitioner.name={joe},{jane}&general-practitioner.address-state=NY");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Chains_follow_several_hops_and_reverse_chains_nest(string backend)
    {
        var store = fixture[backend];
        var tag = StoreExtensions.Unique();
        var name = StoreExtensions.Unique("org");
        var organisation = await Create(store, new Organization { Name = name, Type = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/organization-type", "prov")] });
        var registered = await Create(store, new Patient { ManagingOrganization = new ResourceReference($"Organization/{organisation}") });
        var elsewhere = await Create(store, new Patient());
        var seen = await Create(store, Observation(tag, registered));
        await Create(store, Observation(tag, elsewhere));

        var scope = $"_tag=urn:test|{tag}";
        await Finds(store, $"Observation?{scope}&patient.organization.name={name}", seen);
        await Finds(store, $"Observation?{scope}&patient.organization.name={name}&patient.organization.type=prov", seen);
        await Finds(store, $"Observation?{scope}&patient.organization.name={name}&patient.organization.type=dept");

        // _has: patients with an observation of the tag; nested: organisations with such a patient.
        var encounter = await Create(store, new Encounter { Status = Encounter.EncounterStatus.Finished, Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"), Subject = new ResourceReference($"Patient/{registered}") });
        var withEncounter = Observation(tag, registered);
        withEncounter.Encounter = new ResourceReference($"Encounter/{encounter}");
        withEncounter.Code = new CodeableConcept("http://loinc.org", "29463-7");
        await Create(store, withEncounter);

        await Finds(store, $"Patient?_id={registered},{elsewhere}&_has:Observation:patient:_tag=urn:test|{tag}", registered, elsewhere);
        await Finds(store, $"Patient?_id={registered},{elsewhere}&_has:Observation:patient:code=29463-7", registered);
        await Finds(store, $"Organization?_id={organisation}&_has:Patient:organization:_has:Observation:patient:code=29463-7", organisation);
        await Finds(store, $"Organization?_id={organisation}&_has:Patient:organization:_has:Observation:patient:code=0000-0");
        await Finds(store, $"Patient?_id={registered},{elsewhere}&_has:Encounter:patient:_has:Observation:encounter:code=29463-7", registered);
    }

    [Fact]
    public void A_parameter_is_single_valued_only_when_every_step_of_its_path_is()
    {
        var core = SearchParameterRegistry.Core;
        string? Expression(string type, string code) => core.Find(type, code)!.Expression;

        // Observation.subject.where(resolve() is Patient), out of the union of every clinical resource's patient.
        Assert.True(SimplePaths.IsSingleValued(Expression("Observation", "patient"), "Observation"));
        Assert.True(SimplePaths.IsSingleValued(Expression("Observation", "subject"), "Observation"));
        Assert.True(SimplePaths.IsSingleValued(Expression("Patient", "organization"), "Patient"));
        Assert.False(SimplePaths.IsSingleValued(Expression("Patient", "general-practitioner"), "Patient"));
        Assert.False(SimplePaths.IsSingleValued(Expression("Encounter", "practitioner"), "Encounter"));
        Assert.False(SimplePaths.IsSingleValued(Expression("DiagnosticReport", "result"), "DiagnosticReport"));
        Assert.False(SimplePaths.IsSingleValued(Expression("Patient", "family"), "Patient"));
        Assert.False(SimplePaths.IsSingleValued(null, "Patient"));
    }

    [Fact]
    public void Chains_merge_through_a_single_reference_only()
    {
        var core = SearchParameterRegistry.Core;
        var observation = SearchQuery.Parse("Observation", Query("patient.family=a", "patient.birthdate=1950", "patient.organization.name=b", "patient.organization.type=prov", "performer.name=c", "performer.name=d"), core, strict: true);
        var merged = SearchSqlBuilder.MergeChains("Observation", observation.Criteria);

        // One chain through patient (its organisation chains merged in turn), and the performer chains apart.
        Assert.Equal(3, merged.Count);
        var patient = Assert.IsType<AllCriterion>(Assert.IsType<ChainCriterion>(merged[0]).Inner);
        Assert.Equal(3, patient.Parts.Count);
        Assert.Equal(2, Assert.IsType<AllCriterion>(Assert.IsType<ChainCriterion>(patient.Parts[2]).Inner).Parts.Count);
        Assert.All(merged.Skip(1), c => Assert.IsNotType<AllCriterion>(Assert.IsType<ChainCriterion>(c).Inner));

        // A type modifier names another list of targets: subject:Patient and patient do not merge.
        var typed = SearchQuery.Parse("Observation", Query("patient.family=a", "subject:Patient.birthdate=1950"), core, strict: true);
        Assert.Equal(2, SearchSqlBuilder.MergeChains("Observation", typed.Criteria).Count);
    }

    private static List<KeyValuePair<string, string>> Query(params string[] pairs) =>
        pairs.Select(p => p.Split('=', 2)).Select(p => KeyValuePair.Create(p[0], p[1])).ToList();

    private static Observation Observation(string tag, string? patient) => new()
    {
        Meta = new Meta { Tag = [new Coding("urn:test", tag)] },
        Status = ObservationStatus.Final,
        Code = new CodeableConcept("http://loinc.org", "8867-4"),
        Subject = patient is null ? null : new ResourceReference($"Patient/{patient}"),
    };

    private static async System.Threading.Tasks.Task<string> Create(FhirStore store, Resource resource)
    {
        var response = await store.Send("POST", resource.TypeName, resource);
        Assert.True(response.Status == 201, StoreExtensions.Describe(response));
        return response.Id!;
    }

    private static async System.Threading.Tasks.Task Finds(FhirStore store, string url, params string[] expected)
    {
        var bundle = await store.SearchAsync(url + "&_count=100");
        var found = bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource.Id).Order(StringComparer.Ordinal);
        Assert.Equal(expected.Order(StringComparer.Ordinal), found);
    }
}
