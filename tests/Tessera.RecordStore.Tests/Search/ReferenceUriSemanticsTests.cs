using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;
using static Tessera.RecordStore.Tests.Search.SearchSemantics;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// Reference and uri search (FHIR R4 search.html 3.1.1.4.10 and 3.1.1.4.13): a reference by id, by Type/id and by
/// this server's absolute URL, the :[type] and :identifier modifiers and :missing; a uri exactly, :above and :below.
/// </summary>
public sealed class ReferenceUriSemanticsTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    /// <summary>The base URL the store's requests carry by default (FhirRequest.FromUrl).</summary>
    private const string Base = "http://localhost/fhir";

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Reference_matches_by_id_type_and_id_or_this_servers_url(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var p = await Put(store, tag, "p", new Patient());
        var q = await Put(store, tag, "q", new Patient());
        // A group with the same id as the patient: only the type tells them apart.
        await Put(store, tag, "p", new Group { Type = Group.GroupType.Person, Actual = true });
        await Put(store, tag, "relative", Observation(new ResourceReference($"Patient/{p}")));
        await Put(store, tag, "absolute", Observation(new ResourceReference($"{Base}/Patient/{p}")));
        await Put(store, tag, "versioned", Observation(new ResourceReference($"Patient/{p}/_history/1")));
        await Put(store, tag, "group", Observation(new ResourceReference($"Group/{p}")));
        await Put(store, tag, "other", Observation(new ResourceReference($"Patient/{q}")));
        await Put(store, tag, "none", Observation(null));

        // A reference by this server's full URL is kept relative, as it is to this server's resource.
        var kept = await store.Send("GET", $"Observation/{tag}-absolute");
        Assert.Equal($"Patient/{p}", kept.Body<Observation>().Subject.Reference);
        await Finds(store, tag, $"Observation?subject=Patient/{p}", "relative", "absolute", "versioned");
        await Finds(store, tag, $"Observation?subject={Base}/Patient/{p}", "relative", "absolute", "versioned");
        // An id alone matches a reference to a resource of any type with that id.
        await Finds(store, tag, $"Observation?subject={p}", "relative", "absolute", "versioned", "group");
        await Finds(store, tag, $"Observation?subject:Patient={p}", "relative", "absolute", "versioned");
        await Finds(store, tag, $"Observation?subject:Group={p}", "group");
        await Finds(store, tag, $"Observation?subject:Group=Patient/{p}");
        // patient is subject where it resolves to a Patient.
        await Finds(store, tag, $"Observation?patient={p}", "relative", "absolute", "versioned");
        await Finds(store, tag, $"Observation?subject=Patient/{p},Patient/{q}", "relative", "absolute", "versioned", "other");
        await Finds(store, tag, $"Observation?subject=Patient/{tag}-nobody");

        await Finds(store, tag, "Observation?subject:missing=true", "none");
        await Finds(store, tag, "Observation?subject:missing=false", "relative", "absolute", "versioned", "group", "other");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Reference_identifier_matches_the_logical_reference(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var mrn = $"urn:mrn:{tag}";
        await Put(store, tag, "logical", Observation(new ResourceReference { Identifier = new Identifier(mrn, "42") }));
        await Put(store, tag, "both", Observation(new ResourceReference($"Patient/{tag}-x") { Identifier = new Identifier(mrn, "43") }));
        await Put(store, tag, "literal", Observation(new ResourceReference($"Patient/{tag}-x")));

        await Finds(store, tag, $"Observation?subject:identifier={mrn}|42", "logical");
        await Finds(store, tag, $"Observation?subject:identifier={mrn}|", "logical", "both");
        await Finds(store, tag, "Observation?subject:identifier=43", "both");
        await Finds(store, tag, $"Observation?subject:identifier={mrn}|44");
        await Finds(store, tag, $"Observation?subject=Patient/{tag}-x", "both", "literal");
    }

    /// <summary>
    /// A relative reference, or one by this server's URL, is to a resource on this server; an absolute URL of
    /// another server is not, though its path ends in the same Type/id.
    /// </summary>
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Reference_to_another_servers_resource_is_not_this_servers(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var p = $"{tag}-p";
        await Put(store, tag, "local", Observation(new ResourceReference($"Patient/{p}")));
        await Put(store, tag, "foreign", Observation(new ResourceReference($"http://other.example/fhir/Patient/{p}")));

        await Finds(store, tag, $"Observation?subject=http://other.example/fhir/Patient/{p}", "foreign");
        await Finds(store, tag, $"Observation?subject=Patient/{p}", "local");
        await Finds(store, tag, $"Observation?subject={p}", "local");
        await Finds(store, tag, $"Observation?subject:Patient={p}", "local");

        // Nor does it bring this server's Patient of that id into an _include, or the observation into its compartment.
        await Put(store, tag, "p", new Patient());
        var included = await store.SearchAsync($"Observation?_id={tag}-foreign&_include=Observation:subject");
        Assert.Equal([$"Observation/{tag}-foreign"], included.Entry.Select(e => $"{e.Resource.TypeName}/{e.Resource.Id}"));
        var compartment = await store.SearchAsync($"Patient/{p}/Observation");
        Assert.Equal([$"{tag}-local"], compartment.Entry.Select(e => e.Resource.Id));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Uri_matches_exactly_or_above_or_below(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var root = $"http://example.org/{tag}";
        await ValueSet(store, tag, "alpha", $"{root}/fhir/ValueSet/alpha");
        await ValueSet(store, tag, "alpha-beta", $"{root}/fhir/ValueSet/alpha-beta");
        await ValueSet(store, tag, "fhir", $"{root}/fhir");
        await ValueSet(store, tag, "elsewhere", $"{root}/other/ValueSet/alpha");
        var uuid = "urn:uuid:" + Guid.NewGuid().ToString();
        await ValueSet(store, tag, "uuid", uuid);
        await Put(store, tag, "none", new ValueSet { Status = PublicationStatus.Draft });

        // Exact: the whole URI, case included.
        await Finds(store, tag, $"ValueSet?url={root}/fhir/ValueSet/alpha", "alpha");
        await Finds(store, tag, $"ValueSet?url={root}/fhir/ValueSet/ALPHA");
        await Finds(store, tag, $"ValueSet?url={root}/fhir/ValueSet");
        await Finds(store, tag, $"ValueSet?url={uuid}", "uuid");

        // :below: the URI and every URI under it; :above: the URI and every URI it is under.
        await Finds(store, tag, $"ValueSet?url:below={root}/fhir", "alpha", "alpha-beta", "fhir");
        await Finds(store, tag, $"ValueSet?url:below={root}/fhir/ValueSet/", "alpha", "alpha-beta");
        await Finds(store, tag, $"ValueSet?url:below={root}", "alpha", "alpha-beta", "fhir", "elsewhere");
        await Finds(store, tag, $"ValueSet?url:above={root}/fhir/ValueSet/alpha/_history/2", "alpha", "fhir");
        await Finds(store, tag, $"ValueSet?url:above={root}/fhir/ValueSet/alpha", "alpha", "fhir");
        await Finds(store, tag, $"ValueSet?url:above={root}/other/CodeSystem/x");

        await Finds(store, tag, "ValueSet?url:missing=true", "none");
    }

    /// <summary>
    /// :above and :below follow the URI's path segments: <c>.../alpha</c> is neither above nor below
    /// <c>.../alpha-beta</c>, and a character of a stored URI is never a wildcard.
    /// </summary>
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Uri_above_and_below_respect_path_segments_and_take_no_wildcards(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var root = $"http://example.org/{tag}";
        await ValueSet(store, tag, "alpha", $"{root}/fhir/ValueSet/alpha");
        await ValueSet(store, tag, "alpha-beta", $"{root}/fhir/ValueSet/alpha-beta");
        await ValueSet(store, tag, "underscore", $"{root}/fhir/ValueSet/a_c");

        await Finds(store, tag, $"ValueSet?url:above={root}/fhir/ValueSet/alpha-beta", "alpha-beta");
        await Finds(store, tag, $"ValueSet?url:below={root}/fhir/ValueSet/alpha", "alpha");
        await Finds(store, tag, $"ValueSet?url:above={root}/fhir/ValueSet/abc/x");
    }

    private static Observation Observation(ResourceReference? subject) =>
        new() { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = subject };

    private static Task<string> ValueSet(FhirStore store, string tag, string name, string url) =>
        Put(store, tag, name, new ValueSet { Url = url, Status = PublicationStatus.Active });
}
