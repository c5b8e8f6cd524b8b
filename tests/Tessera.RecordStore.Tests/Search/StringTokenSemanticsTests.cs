using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;
using static Tessera.RecordStore.Tests.Search.SearchSemantics;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// String and token search as FHIR R4 defines them (search.html 3.1.1.4.8 and 3.1.1.4.9): starts-with without
/// regard to case or accents, :exact and :contains, the parts of a HumanName and an Address; code, system|code,
/// |code and system|, :text, :not, :of-type, booleans and codes; comma for OR, a repeated parameter for AND.
/// </summary>
public sealed class StringTokenSemanticsTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    private const string IdentifierType = "http://terminology.hl7.org/CodeSystem/v2-0203";
    private const string Loinc = "http://loinc.org";
    private const string Snomed = "http://snomed.info/sct";

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task String_search_starts_with_and_ignores_case_and_accents_unless_exact(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        await Put(store, tag, "a", new Patient { Name = [new HumanName { Family = "Müller", Given = ["Zoë", "Anne"] }] });
        await Put(store, tag, "b", new Patient { Name = [new HumanName { Family = "MÜLLERSON", Given = ["Zoe"] }] });
        await Put(store, tag, "c", new Patient { Name = [new HumanName { Family = "Smith", Given = ["Jonas"] }] });
        await Put(store, tag, "d", new Patient { Name = [new HumanName { Family = "Mull", Given = ["Eve"] }] });
        await Put(store, tag, "e", new Patient { Gender = AdministrativeGender.Unknown });

        // Default: the stored value starts with the search value, both folded to lower case without accents.
        await Finds(store, tag, "Patient?family=muller", "a", "b");
        await Finds(store, tag, "Patient?family=MÜLLER", "a", "b");
        await Finds(store, tag, "Patient?family=mull", "a", "b", "d");
        await Finds(store, tag, "Patient?family=ller");
        await Finds(store, tag, "Patient?given=zoe", "a", "b");
        await Finds(store, tag, "Patient?given=ZOË", "a", "b");

        // :exact is the whole value, with its case and accents.
        await Finds(store, tag, "Patient?family:exact=Müller", "a");
        await Finds(store, tag, "Patient?family:exact=Muller");
        await Finds(store, tag, "Patient?family:exact=müller");
        await Finds(store, tag, "Patient?family:exact=Mül");
        await Finds(store, tag, "Patient?given:exact=Zoe", "b");

        // :contains anywhere in the value, still without regard to case or accents.
        await Finds(store, tag, "Patient?family:contains=ULL", "a", "b", "d");
        await Finds(store, tag, "Patient?family:contains=mit", "c");
        await Finds(store, tag, "Patient?given:contains=oë", "a", "b");

        // A comma is OR; a repeated parameter is AND (each value may be met by a different part).
        await Finds(store, tag, "Patient?given=zoe,eve", "a", "b", "d");
        await Finds(store, tag, "Patient?family=mull&given=eve", "d");
        await Finds(store, tag, "Patient?given=zoe&given=anne", "a");
        await Finds(store, tag, "Patient?given=zoe&given=eve");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Name_and_address_match_any_of_their_parts(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        await Put(store, tag, "a", new Patient
        {
            Name = [new HumanName { Family = "Keller", Given = ["Ada"], Prefix = ["Dr."] }],
            Address = [new Address { Line = ["12 Main Street"], City = "Springfield", State = "IL", PostalCode = "90210", Country = "USA" }],
        });
        await Put(store, tag, "b", new Patient
        {
            Name = [new HumanName { Family = "Okafor", Given = ["Bea"], Suffix = ["Jr."] }],
            Address = [new Address { Line = ["1 Springfield Road"], City = "Shelbyville", PostalCode = "90211" }],
        });
        await Put(store, tag, "c", new Patient { Name = [new HumanName { Text = "Carla Ruiz Peña" }] });
        await Put(store, tag, "d", new Patient { Gender = AdministrativeGender.Other });

        // name: family, given, prefix, suffix and text (R4 Patient-name).
        await Finds(store, tag, "Patient?name=kell", "a");
        await Finds(store, tag, "Patient?name=ada", "a");
        await Finds(store, tag, "Patient?name=dr", "a");
        await Finds(store, tag, "Patient?name=jr", "b");
        await Finds(store, tag, "Patient?name=carla%20ruiz", "c");
        await Finds(store, tag, "Patient?name=pena");
        await Finds(store, tag, "Patient?name:contains=pena", "c");
        await Finds(store, tag, "Patient?family=carla");
        await Finds(store, tag, "Patient?name:missing=true", "d");
        await Finds(store, tag, "Patient?name:missing=false", "a", "b", "c");
        await Finds(store, tag, "Patient?family:missing=true", "c", "d");

        // address: any of line, city, district, state, postal code, country and text; the specific ones only theirs.
        await Finds(store, tag, "Patient?address=springfield", "a");
        await Finds(store, tag, "Patient?address:contains=springfield", "a", "b");
        await Finds(store, tag, "Patient?address=12%20main", "a");
        await Finds(store, tag, "Patient?address=usa", "a");
        await Finds(store, tag, "Patient?address-city=spring", "a");
        await Finds(store, tag, "Patient?address-city=shelbyville", "b");
        await Finds(store, tag, "Patient?address-postalcode=9021", "a", "b");
        await Finds(store, tag, "Patient?address-postalcode=90211", "b");
        await Finds(store, tag, "Patient?address-state=il", "a");
        await Finds(store, tag, "Patient?address-country=USA", "a");
        await Finds(store, tag, "Patient?address:missing=true", "c", "d");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Token_matches_code_system_and_code_or_either_alone(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        await Observation(store, tag, "loinc", Concept(Loinc, "8867-4", "Heart rate"), "vital-signs");
        await Observation(store, tag, "snomed", Concept(Snomed, "364075005", "Heart rate measurement"), null);
        await Observation(store, tag, "nosystem", new CodeableConcept { Coding = [new Coding { Code = "8867-4" }] }, null);
        await Observation(store, tag, "weight", Concept(Loinc, "29463-7", "Body weight"), "vital-signs");
        await Observation(store, tag, "textonly", new CodeableConcept { Text = "Heart beat felt at the wrist" }, "exam");

        await Finds(store, tag, "Observation?code=8867-4", "loinc", "nosystem");
        await Finds(store, tag, $"Observation?code={Loinc}|8867-4", "loinc");
        await Finds(store, tag, "Observation?code=|8867-4", "nosystem");
        await Finds(store, tag, $"Observation?code={Loinc}|", "loinc", "weight");
        await Finds(store, tag, $"Observation?code={Snomed}|8867-4");
        await Finds(store, tag, $"Observation?code={Snomed}|364075005,{Loinc}|29463-7", "snomed", "weight");

        // :text against the coding's display or the concept's text (starts-with, as for strings).
        await Finds(store, tag, "Observation?code:text=heart", "loinc", "snomed", "textonly");
        await Finds(store, tag, "Observation?code:text=HEART%20RATE", "loinc", "snomed");
        await Finds(store, tag, "Observation?code:text=body", "weight");

        // :not: every resource without the code, including those with no value at all.
        await Finds(store, tag, $"Observation?code:not={Loinc}|8867-4", "snomed", "nosystem", "weight", "textonly");
        await Finds(store, tag, "Observation?category:not=vital-signs", "snomed", "nosystem", "textonly");
        await Finds(store, tag, "Observation?category:not=vital-signs,exam", "snomed", "nosystem");
        await Finds(store, tag, "Observation?category:missing=true", "snomed", "nosystem");
        await Finds(store, tag, "Observation?category:missing=false", "loinc", "weight", "textonly");

        // AND of two values of one parameter needs both codes on the resource.
        await Finds(store, tag, "Observation?category=vital-signs&code=29463-7", "weight");
        await Finds(store, tag, "Observation?code=8867-4&code=29463-7");
    }

    /// <summary>:text searches the concept's own text also when its codings have displays of their own.</summary>
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Token_text_searches_the_concepts_text_beside_the_displays(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        await Observation(store, tag, "both", Concept(Loinc, "8867-4", "Heart rate", "Pulse at rest"), null);
        await Observation(store, tag, "display", Concept(Loinc, "8867-4", "Heart rate"), null);

        await Finds(store, tag, "Observation?code:text=pulse", "both");
        await Finds(store, tag, "Observation?code:text=heart", "both", "display");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Identifiers_booleans_and_codes_are_tokens(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        var mrn = $"urn:mrn:{tag}";
        await Put(store, tag, "p1", new Patient
        {
            Identifier =
            [
                new Identifier(mrn, "123") { Type = new CodeableConcept(IdentifierType, "MR") { Text = "Medical record number" } },
                new Identifier($"urn:ssn:{tag}", "999"),
            ],
            Active = true,
            Gender = AdministrativeGender.Female,
            Telecom = [new ContactPoint(ContactPoint.ContactPointSystem.Email, null, $"ann@{tag}.example.org")],
        });
        await Put(store, tag, "p2", new Patient { Identifier = [new Identifier(mrn, "456")], Active = false, Gender = AdministrativeGender.Male });
        await Put(store, tag, "p3", new Patient { Identifier = [new Identifier($"urn:other:{tag}", "123") { Type = new CodeableConcept(IdentifierType, "DL") }], Gender = AdministrativeGender.Female });
        await Put(store, tag, "p4", new Patient { BirthDate = "1990" });

        await Finds(store, tag, "Patient?identifier=123", "p1", "p3");
        await Finds(store, tag, $"Patient?identifier={mrn}|123", "p1");
        await Finds(store, tag, $"Patient?identifier={mrn}|", "p1", "p2");
        await Finds(store, tag, "Patient?identifier=|123");
        await Finds(store, tag, $"Patient?identifier={mrn}|999");
        await Finds(store, tag, $"Patient?identifier:not={mrn}|123", "p2", "p3", "p4");
        await Finds(store, tag, "Patient?identifier:text=medical", "p1");
        await Finds(store, tag, "Patient?identifier:missing=true", "p4");

        // :of-type: the identifier's type (system|code) and its value, together on one identifier.
        await Finds(store, tag, $"Patient?identifier:of-type={IdentifierType}|MR|123", "p1");
        await Finds(store, tag, $"Patient?identifier:of-type={IdentifierType}|DL|123", "p3");
        await Finds(store, tag, $"Patient?identifier:of-type={IdentifierType}|MR|999");
        await Finds(store, tag, $"Patient?identifier:of-type={IdentifierType}|MR|456");

        // Booleans, and :not on them also finds resources with no value.
        await Finds(store, tag, "Patient?active=true", "p1");
        await Finds(store, tag, "Patient?active=false", "p2");
        await Finds(store, tag, "Patient?active:not=true", "p2", "p3", "p4");
        await Finds(store, tag, "Patient?active:missing=true", "p3", "p4");

        // Codes with a required binding carry their system.
        await Finds(store, tag, "Patient?gender=female", "p1", "p3");
        await Finds(store, tag, "Patient?gender=http://hl7.org/fhir/administrative-gender|male", "p2");
        await Finds(store, tag, "Patient?gender=female,male", "p1", "p2", "p3");
        await Finds(store, tag, "Patient?gender:not=female", "p2", "p4");
        await Finds(store, tag, "Patient?gender:missing=true", "p4");

        // A ContactPoint is a token on its value.
        await Finds(store, tag, $"Patient?email=ann@{tag}.example.org", "p1");
        await Finds(store, tag, $"Patient?telecom=ann@{tag}.example.org", "p1");
    }

    /// <summary>A concept of one coding with a display (the model's own constructor takes the concept's text instead).</summary>
    private static CodeableConcept Concept(string system, string code, string display, string? text = null) =>
        new() { Coding = [new Coding(system, code, display)], Text = text };

    private static Task<string> Observation(FhirStore store, string tag, string name, CodeableConcept code, string? category)
    {
        var observation = new Observation { Status = ObservationStatus.Final, Code = code };
        if (category is not null)
        {
            observation.Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/observation-category", category)];
        }

        return Put(store, tag, name, observation);
    }
}
