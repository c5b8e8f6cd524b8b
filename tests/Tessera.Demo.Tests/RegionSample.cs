using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Tessera.Demo.Tests;

/// <summary>One region generated once and shared by the tests that only read it.</summary>
public sealed partial class RegionSample
{
    public const int People = 1500;

    private static readonly BaseFhirJsonSerializer Serializer = new(ModelInfo.ModelInspector);

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

    /// <summary>Compact JSON through Firely's serializer straight to a UTF-8 writer (much faster than SerializeToString).</summary>
    public static string Json(Resource resource)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer, new System.Text.Json.JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            Serializer.Serialize(resource, writer);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static IEnumerable<Resource> Resources(PersonBundle person) => person.Bundle.Entry.Select(e => e.Resource!);

    public static IEnumerable<string> References(Resource resource) =>
        ReferencePattern().Matches(Json(resource)).Select(m => m.Groups[1].Value);

    [GeneratedRegex("\"reference\":\"([^\"]+)\"")]
    private static partial Regex ReferencePattern();
}
