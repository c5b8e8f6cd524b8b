using Hl7.Fhir.Model;
using Tessera.Demo.Fhir;
using Tessera.Demo.Randomness;
using Tessera.Demo.Region;
using Tessera.Identity.NhsNumbers;
using Person = Tessera.Demo.People.Person;

namespace Tessera.Demo.People;

/// <summary>A source system's Patient record for a person, as added to the person's bundle.</summary>
internal sealed record SourcePatient(SourceSystem Source, string Id, string IdentifierSystem, string IdentifierValue, DataQualityFault Faults)
{
    public ResourceReference Reference(string display) => FhirBuild.Urn(Id, display);
}

/// <summary>
/// Writes the Patient record each source system holds for a person, with the faults their feeds really show:
/// a typo in a name, an NHS number not recorded, day and month of birth swapped, a surname from before
/// marriage, an address from before a move.
/// </summary>
internal static class SourceRecords
{
    private const string Keyboard = "qwertyuiopasdfghjklzxcvbnm";

    public static SourcePatient GeneralPractice(DemoRandom rng, TransactionBuilder builder, Person person)
    {
        var faults = rng.Chance(0.03) ? DataQualityFault.Typo : DataQualityFault.None;
        var localId = $"{person.Practice.OdsCode}-{Scramble(person.Index, 7_368_787, 10_000_000):0000000}";
        var patient = Build(rng, person, faults, person.NhsNumber, new Identifier(Systems.GpPatientId, localId));
        patient.GeneralPractitioner =
        [
            FhirBuild.Ref("Organization", person.Practice.OrganisationId, person.Practice.Name),
            FhirBuild.Ref("Practitioner", person.UsualGp.PractitionerId, person.UsualGp.Name),
        ];
        patient.ManagingOrganization = FhirBuild.Ref("Organization", person.Practice.OrganisationId, person.Practice.Name);
        var id = builder.Add(patient);
        return new SourcePatient(SourceSystem.GeneralPractice, id, Systems.GpPatientId, localId, faults);
    }

    public static SourcePatient Hospital(DemoRandom rng, TransactionBuilder builder, Person person)
    {
        var faults = DrawFaults(rng, person, typo: 0.06, missingNhs: 0.08, transposed: 0.03, oldSurname: 0.5, oldAddress: 0.4);
        var mrn = $"TVH{Scramble(person.Index, 5_915_587, 10_000_000):0000000}";
        var patient = Build(rng, person, faults, (faults & DataQualityFault.MissingNhsNumber) != 0 ? null : person.NhsNumber, new Identifier(Systems.HospitalMrn, mrn) { Type = FhirBuild.Concept("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number") });
        if (person.NhsNumber is not null)
        {
            patient.GeneralPractitioner = [FhirBuild.Ref("Organization", person.Practice.OrganisationId, person.Practice.Name)];
        }

        patient.ManagingOrganization = FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, RegionDirectory.AcuteTrustName);
        var id = builder.Add(patient);
        return new SourcePatient(SourceSystem.Hospital, id, Systems.HospitalMrn, mrn, faults);
    }

    public static SourcePatient SocialCare(DemoRandom rng, TransactionBuilder builder, Person person)
    {
        var faults = DrawFaults(rng, person, typo: 0.08, missingNhs: 0.2, transposed: 0.03, oldSurname: 0.5, oldAddress: 0.4);
        var clientId = $"{Scramble(person.Index, 4_194_301, 10_000_000):0000000}";
        var patient = Build(rng, person, faults, (faults & DataQualityFault.MissingNhsNumber) != 0 ? null : person.NhsNumber, new Identifier(Systems.SocialCareClientId, clientId));
        patient.ManagingOrganization = FhirBuild.Ref("Organization", RegionDirectory.CouncilId, RegionDirectory.CouncilName);
        var id = builder.Add(patient);
        return new SourcePatient(SourceSystem.SocialCare, id, Systems.SocialCareClientId, clientId, faults);
    }

    /// <summary>An affine permutation of the person index: unique local numbers that do not reveal the order people were made in.</summary>
    private static long Scramble(int index, long multiplier, long modulus) => (index * multiplier + 1_234_567) % modulus;

    private static DataQualityFault DrawFaults(DemoRandom rng, Person person, double typo, double missingNhs, double transposed, double oldSurname, double oldAddress)
    {
        var faults = DataQualityFault.None;
        if (rng.Chance(typo))
        {
            faults |= DataQualityFault.Typo;
        }

        if (person.NhsNumber is not null && rng.Chance(missingNhs))
        {
            faults |= DataQualityFault.MissingNhsNumber;
        }

        if (person.BirthDate.Day <= 12 && person.BirthDate.Day != person.BirthDate.Month && rng.Chance(transposed))
        {
            faults |= DataQualityFault.TransposedBirthDate;
        }

        if (person.PreviousFamily is not null && rng.Chance(oldSurname))
        {
            faults |= DataQualityFault.ChangedSurname;
        }

        if (person.PreviousAddressLine is not null && rng.Chance(oldAddress))
        {
            faults |= DataQualityFault.OldAddress;
        }

        return faults;
    }

    private static Patient Build(DemoRandom rng, Person person, DataQualityFault faults, string? nhsNumber, Identifier local)
    {
        var given = person.Given;
        var family = (faults & DataQualityFault.ChangedSurname) != 0 ? person.PreviousFamily! : person.Family;
        if ((faults & DataQualityFault.Typo) != 0)
        {
            if (rng.Chance(0.5))
            {
                given = Typo(rng, given);
            }
            else
            {
                family = Typo(rng, family);
            }
        }

        var birthDate = (faults & DataQualityFault.TransposedBirthDate) != 0
            ? new DateOnly(person.BirthDate.Year, person.BirthDate.Day, person.BirthDate.Month)
            : person.BirthDate;
        var oldAddress = (faults & DataQualityFault.OldAddress) != 0;

        var patient = new Patient
        {
            Meta = FhirBuild.Profile(UkCore.Patient),
            Extension =
            [
                new Extension(UkCore.EthnicCategoryExtension, new CodeableConcept(Systems.EthnicCategory, person.Ethnicity.Code, person.Ethnicity.Display, null)),
            ],
            Active = true,
            Name =
            [
                new HumanName
                {
                    Use = HumanName.NameUse.Official,
                    Family = family,
                    Given = person.Middle is null ? [given] : [given, person.Middle],
                    Prefix = person.Age >= 18 ? [person.Male ? "Mr" : rng.Pick(["Mrs", "Ms", "Miss"])] : [],
                },
            ],
            Gender = person.Male ? AdministrativeGender.Male : AdministrativeGender.Female,
            BirthDate = FhirBuild.Date(birthDate),
            Address =
            [
                oldAddress
                    ? FhirBuild.Address(person.PreviousAddressLine!, person.PreviousTown!.Name, person.PreviousPostcode!, Geography.County)
                    : FhirBuild.Address(person.AddressLine, person.Town.Name, person.Postcode, Geography.County),
            ],
        };

        if (nhsNumber is not null)
        {
            var identifier = new Identifier(NhsNumber.System, nhsNumber);
            identifier.Extension.Add(new Extension(
                UkCore.NhsNumberVerificationStatusExtension,
                new CodeableConcept(Systems.NhsNumberVerificationStatus, "01", "Number present and verified", null)));
            patient.Identifier.Add(identifier);
        }

        patient.Identifier.Add(local);
        if (person.Mobile is not null)
        {
            patient.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Mobile, person.Mobile));
        }

        if (person.Landline is not null)
        {
            patient.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Home, person.Landline));
        }

        return patient;
    }

    /// <summary>One keying slip: two letters swapped, a letter dropped, doubled or replaced.</summary>
    internal static string Typo(DemoRandom rng, string name)
    {
        if (name.Length < 3)
        {
            return name + name[^1];
        }

        var chars = name.ToCharArray();
        var i = rng.Between(1, name.Length - 2);
        string result;
        switch (rng.Next(4))
        {
            case 0:
                (chars[i], chars[i + 1]) = (chars[i + 1], chars[i]);
                result = new string(chars);
                break;
            case 1:
                result = name.Remove(i, 1);
                break;
            case 2:
                result = name.Insert(i, name[i].ToString());
                break;
            default:
                chars[i] = Keyboard[rng.Next(Keyboard.Length)];
                result = new string(chars);
                break;
        }

        // A swap of two equal letters changes nothing; double the last letter instead so the fault is real.
        return result == name ? name + name[^1] : result;
    }
}
