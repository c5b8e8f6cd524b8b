using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;
using static Tessera.RecordStore.Tests.Search.SearchSemantics;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// The parameters every resource has (FHIR R4 search.html 3.1.1.3): _id, _lastUpdated, _tag, _profile, _security
/// and _source; malformed values and unknown parameters (3.1.1.2, 3.1.1.6: a 400 with an OperationOutcome, or a
/// parameter ignored and reported unless Prefer: handling=strict).
/// </summary>
public sealed class CommonParameterSemanticsTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    private const string Confidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Meta_parameters_search_tags_profiles_security_labels_and_sources(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var profile = $"http://example.org/{tag}/StructureDefinition";
        var source = $"http://example.org/{tag}/feed";
        await Put(store, tag, "a", new Patient
        {
            Meta = new Meta { Profile = [$"{profile}/a"], Security = [new Coding(Confidentiality, "R")], Source = $"{source}#batch-1" },
        });
        await Put(store, tag, "b", new Patient
        {
            Meta = new Meta { Tag = [new Coding($"urn:other:{tag}", "flagged")], Profile = [$"{profile}/b"], Security = [new Coding(Confidentiality, "N")] },
        });
        await Put(store, tag, "c", new Patient());

        await Finds(store, tag, "Patient", "a", "b", "c");
        await Finds(store, tag, $"Patient?_id={tag}-a,{tag}-c", "a", "c");
        await Finds(store, tag, $"Patient?_id={tag}-a&_id={tag}-b");
        await Finds(store, tag, $"Patient?_id={tag}-nobody");

        await Finds(store, tag, $"Patient?_tag=urn:other:{tag}|flagged", "b");
        await Finds(store, tag, "Patient?_tag=flagged", "b");
        await Finds(store, tag, $"Patient?_tag:not=urn:other:{tag}|flagged", "a", "c");

        await Finds(store, tag, $"Patient?_profile={profile}/a", "a");
        await Finds(store, tag, $"Patient?_profile={profile}");
        await Finds(store, tag, $"Patient?_profile:below={profile}", "a", "b");
        await Finds(store, tag, "Patient?_profile:missing=true", "c");

        await Finds(store, tag, $"Patient?_security={Confidentiality}|R", "a");
        await Finds(store, tag, $"Patient?_security=R,N", "a", "b");
        await Finds(store, tag, $"Patient?_security:not={Confidentiality}|R", "b", "c");
        await Finds(store, tag, "Patient?_security:missing=true", "c");

        await Finds(store, tag, $"Patient?_source={Uri.EscapeDataString(source + "#batch-1")}", "a");
        await Finds(store, tag, $"Patient?_source={source}");
        await Finds(store, tag, $"Patient?_source:below={source}", "a");
        await Finds(store, tag, "Patient?_source:missing=false", "a");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Last_updated_compares_with_every_prefix(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var updated = new Dictionary<string, DateTimeOffset>();
        foreach (var name in new[] { "a", "b", "c", "d" })
        {
            await Put(store, tag, name, new Patient());
            var read = await store.Send("GET", $"Patient/{tag}-{name}");
            updated[name] = read.Body<Patient>().Meta.LastUpdated!.Value;
        }

        // The expectations follow from the times the store gave (several may share one millisecond).
        var pivot = updated["b"];
        string[] Where(Func<DateTimeOffset, bool> test) => [.. updated.Where(u => test(u.Value)).Select(u => u.Key)];
        var at = Uri.EscapeDataString(pivot.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));

        await Finds(store, tag, $"Patient?_lastUpdated={at}", Where(u => u == pivot));
        await Finds(store, tag, $"Patient?_lastUpdated=eq{at}", Where(u => u == pivot));
        await Finds(store, tag, $"Patient?_lastUpdated=ne{at}", Where(u => u != pivot));
        await Finds(store, tag, $"Patient?_lastUpdated=gt{at}", Where(u => u > pivot));
        await Finds(store, tag, $"Patient?_lastUpdated=ge{at}", Where(u => u >= pivot));
        await Finds(store, tag, $"Patient?_lastUpdated=lt{at}", Where(u => u < pivot));
        await Finds(store, tag, $"Patient?_lastUpdated=le{at}", Where(u => u <= pivot));
        await Finds(store, tag, $"Patient?_lastUpdated=sa{at}", Where(u => u > pivot));
        await Finds(store, tag, $"Patient?_lastUpdated=eb{at}", Where(u => u < pivot));

        // At second precision the search value is the whole second.
        var second = new DateTimeOffset(pivot.Ticks - (pivot.Ticks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
        var atSecond = Uri.EscapeDataString(second.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        await Finds(store, tag, $"Patient?_lastUpdated={atSecond}", Where(u => u >= second && u < second.AddSeconds(1)));
        await Finds(store, tag, $"Patient?_lastUpdated=gt{atSecond}", Where(u => u >= second.AddSeconds(1)));

        await Finds(store, tag, "Patient?_lastUpdated=gt2000-01-01&_lastUpdated=lt3000", "a", "b", "c", "d");
        await Finds(store, tag, "Patient?_lastUpdated=lt2000-01-01");
        await Finds(store, tag, "Patient?_lastUpdated=lt2000,gt2000", "a", "b", "c", "d");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Malformed_values_are_refused_with_an_operation_outcome(string backend)
    {
        var store = fixture[backend];
        await Refuses(store, "Patient?birthdate=2020-13-45");
        await Refuses(store, "Patient?birthdate=1980-1");
        await Refuses(store, "Patient?birthdate=yesterday");
        await Refuses(store, "Patient?birthdate=xx2020");
        await Refuses(store, "Patient?birthdate=2020,notadate");
        await Refuses(store, "Patient?_lastUpdated=gtnever");
        await Refuses(store, "RiskAssessment?probability=abc");
        await Refuses(store, "RiskAssessment?probability=zz100");
        await Refuses(store, "RiskAssessment?probability=1,0x2");
        await Refuses(store, "Observation?value-quantity=heavy|http://unitsofmeasure.org|kg");
        await Refuses(store, "Patient?family:sounds-like=smith");
        await Refuses(store, "Patient?birthdate:exact=2020");
        await Refuses(store, "Patient?gender:contains=male");
        await Refuses(store, "Patient?gender:missing=perhaps");
        await Refuses(store, "Patient?identifier:of-type=only|two");
        await Refuses(store, "Patient?_count=many");
        await Refuses(store, "Patient?_count=-1");
        await Refuses(store, "Patient?_sort=shoe-size");
        await Refuses(store, "Patient?_total=some");
        await Refuses(store, "Patient?_summary=short");
        await Refuses(store, "Patient?_include=Patient:name");
        await Refuses(store, "Patient?_include=Nonsense:subject");
    }

    /// <summary>A token has one unescaped bar at most: system|code (a bar inside a code is written \|).</summary>
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Token_with_more_than_one_bar_is_refused(string backend)
    {
        var store = fixture[backend];
        await Refuses(store, "Patient?identifier=urn:mrn|123|extra");
        await Refuses(store, "Observation?code=http://loinc.org|8867-4|x");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Unknown_parameter_is_ignored_and_reported_but_refused_when_handling_is_strict(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        await Put(store, tag, "a", new Patient { Name = [new HumanName { Family = "Lenient" }] });
        await Put(store, tag, "b", new Patient { Name = [new HumanName { Family = "Other" }] });

        var bundle = await store.SearchAsync(Scoped(tag, "Patient?family=lenient&shoe-size=9"));
        Assert.Equal(["a"], bundle.Entry.Where(e => e.Search.Mode == Bundle.SearchEntryMode.Match).Select(e => Short(tag, e.Resource.Id)));
        var outcome = Assert.IsType<OperationOutcome>(Assert.Single(bundle.Entry, e => e.Search.Mode == Bundle.SearchEntryMode.Outcome).Resource);
        Assert.Contains(outcome.Issue, i => i.Severity == OperationOutcome.IssueSeverity.Warning && i.Diagnostics.Contains("shoe-size", StringComparison.Ordinal));
        var self = bundle.Link.Single(l => l.Relation == "self").Url;
        Assert.DoesNotContain("shoe-size", self, StringComparison.Ordinal);
        Assert.Contains("family=lenient", self, StringComparison.Ordinal);

        await Refuses(store, Scoped(tag, "Patient?family=lenient&shoe-size=9"), r => r with { StrictHandling = true });
        Assert.Equal(200, (await store.Send("GET", Scoped(tag, "Patient?family=lenient"), adjust: r => r with { StrictHandling = true })).Status);
    }
}
