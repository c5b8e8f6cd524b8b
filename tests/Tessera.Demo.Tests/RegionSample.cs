using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Tessera.Demo.Tests;

/// <summary>One region generated once and shared by the tests that only read it.</summary>
public sealed partial class RegionSample
{
    public const int People = 2000;

    private static readonly Lazy<RegionSample> Shared = new(() => new RegionSample(new RegionOptions { Patients = People, Seed = 2024 }));

    private RegionSample(RegionOptions options)
    {
        Options = options;
        var generator = new RegionGenerator(options);
        OrganisationBundles = generator.OrganisationBundles().ToList();
        Persons = generator.People().ToList();
    }

    public static RegionSample Instance => Shared.Value;

    public RegionOptions Options { get; }

    public IReadOnlyList<Bundle> OrganisationBundles { get; }

    public IReadOnlyList<PersonBundle> Persons { get; }

    public IEnumerable<Resource> OrganisationResources => OrganisationBundles.SelectMany(b => b.Entry).Select(e => e.Resource!);

    public static string Json(Resource resource) => new BaseFhirJsonSerializer(ModelInfo.ModelInspector).SerializeToString(resource);

    public static IEnumerable<string> References(Resource resource) =>
        ReferencePattern().Matches(Json(resource)).Select(m => m.Groups[1].Value);

    [GeneratedRegex("\"reference\":\"([^\"]+)\"")]
    private static partial Regex ReferencePattern();
}
