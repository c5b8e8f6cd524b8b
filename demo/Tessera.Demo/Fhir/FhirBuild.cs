using Hl7.Fhir.Model;

namespace Tessera.Demo.Fhir;

/// <summary>Small constructors for the FHIR data types the generator writes over and over.</summary>
internal static class FhirBuild
{
    public static Meta Profile(string profile) => new() { Profile = [profile] };

    public static Coding Coding(string system, string code, string display) => new(system, code, display);

    public static CodeableConcept Concept(string system, string code, string display) =>
        new() { Coding = [new Coding(system, code, display)], Text = display };

    public static CodeableConcept Snomed(string code, string display) => Concept(Systems.Snomed, code, display);

    public static CodeableConcept Text(string text) => new() { Text = text };

    /// <summary>A reference to a shared organisational resource, which the organisation bundles create with a fixed id.</summary>
    public static ResourceReference Ref(string type, string id, string? display = null) =>
        new($"{type}/{id}") { Display = display };

    /// <summary>A reference to another entry of the same transaction bundle.</summary>
    public static ResourceReference Urn(string uuid, string? display = null) => new($"urn:uuid:{uuid}") { Display = display };

    public static Identifier Ods(string code) => new(Systems.OdsOrganisation, code);

    public static Identifier OdsSite(string code) => new(Systems.OdsSite, code);

    public static Quantity Ucum(decimal value, string unit, string code) =>
        new() { Value = value, Unit = unit, System = Systems.Ucum, Code = code };

    public static string DateTime(DateTimeOffset value) => value.ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture);

    public static string Date(DateOnly value) => value.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    public static Address Address(string line, string town, string postcode, string? district = null, Address.AddressUse use = Hl7.Fhir.Model.Address.AddressUse.Home) =>
        new()
        {
            Use = use,
            Type = Hl7.Fhir.Model.Address.AddressType.Both,
            Line = [line],
            City = town,
            District = district,
            PostalCode = postcode,
            Country = "GB",
        };
}
