using Tessera.Demo.Clinical;
using Tessera.Demo.Randomness;
using Tessera.Demo.Region;

namespace Tessera.Demo.People;

/// <summary>The true person behind the source records: what every system would record if none made mistakes.</summary>
internal sealed class Person
{
    public required string Id { get; init; }
    public required int Index { get; init; }
    public required bool Male { get; init; }
    public required DateOnly BirthDate { get; init; }
    public required int Age { get; init; }
    public required EthnicCategory Ethnicity { get; init; }
    public required string Given { get; init; }
    public string? Middle { get; init; }
    public required string Family { get; init; }

    /// <summary>A surname used before marriage, which some systems still hold.</summary>
    public string? PreviousFamily { get; init; }

    public required Town Town { get; init; }
    public required string AddressLine { get; init; }
    public required string Postcode { get; init; }
    public Town? PreviousTown { get; init; }
    public string? PreviousAddressLine { get; init; }
    public string? PreviousPostcode { get; init; }
    public string? Mobile { get; init; }
    public string? Landline { get; init; }

    /// <summary>Null for visitors and others never registered with the NHS in England.</summary>
    public string? NhsNumber { get; init; }

    public required Practice Practice { get; init; }
    public required Staff UsualGp { get; init; }
    public required List<(ConditionDefinition Definition, DateOnly Onset)> Conditions { get; init; }
    public (string Code, string Display, string Category, double Share)? Allergy { get; init; }

    public bool Has(string conditionKey) => Conditions.Any(c => c.Definition.Key == conditionKey);
}

/// <summary>Draws a true person from the region's demography.</summary>
internal static class PersonFactory
{
    public static Person Create(DemoRandom rng, int index, DateOnly referenceDate, RegionDirectory region, NhsNumberPool nhsNumbers)
    {
        var (age, male) = Demography.AgeAndSex(rng);
        var birthDate = referenceDate.AddYears(-age).AddDays(-rng.Next(365) - 1);
        var ethnicity = Demography.Ethnicity(rng);
        var given = NameData.GivenName(rng, male, birthDate.Year, ethnicity.Names);
        var middle = rng.Chance(0.45) ? NameData.GivenName(rng, male, birthDate.Year, ethnicity.Names) : null;
        if (middle == given)
        {
            middle = null;
        }

        var family = NameData.Surname(rng, ethnicity.Names);
        string? previousFamily = null;
        if (!male && age >= 22 && rng.Chance(0.4))
        {
            // Married and took a spouse's surname; the birth surname lingers in older records.
            previousFamily = family;
            family = rng.Chance(0.8) ? NameData.Surname(rng, ethnicity.Names) : NameData.EnglishSurname(rng);
            if (family == previousFamily)
            {
                previousFamily = null;
            }
        }

        var town = Geography.PickTown(rng);
        var moved = rng.Chance(0.3);
        var previousTown = moved ? (rng.Chance(0.6) ? town : Geography.PickTown(rng)) : null;
        var practices = region.PracticesFor(town);
        var practice = practices[rng.Next(practices.Count)];

        // About 2% are visitors or otherwise unregistered and hold no NHS number.
        var nhsNumber = rng.Chance(0.02) ? null : nhsNumbers.For(index);
        var conditions = new List<(ConditionDefinition, DateOnly)>();
        foreach (var definition in Catalogue.Conditions)
        {
            if (rng.Chance(definition.PrevalenceAt(age, male)))
            {
                // Onset somewhere in the years the prevalence curve says it could have started.
                var earliest = Math.Max(definition.Curve[0].Age, 1);
                var onsetAge = age <= earliest ? age : rng.Between(Math.Max(earliest, age - 25), age);
                var onset = birthDate.AddYears(onsetAge).AddDays(rng.Next(300));
                conditions.Add((definition, onset > referenceDate.AddDays(-14) ? referenceDate.AddDays(-14 - rng.Next(60)) : onset));
            }
        }

        (string, string, string, double)? allergy = null;
        foreach (var a in Catalogue.Allergies)
        {
            if (rng.Chance(a.Share))
            {
                allergy = a;
                break;
            }
        }

        return new Person
        {
            Id = rng.Uuid(),
            Index = index,
            Male = male,
            BirthDate = birthDate,
            Age = age,
            Ethnicity = ethnicity,
            Given = given,
            Middle = middle,
            Family = family,
            PreviousFamily = previousFamily,
            Town = town,
            AddressLine = Geography.StreetLine(rng),
            Postcode = Geography.Postcode(rng, town),
            PreviousTown = previousTown,
            PreviousAddressLine = moved ? Geography.StreetLine(rng) : null,
            PreviousPostcode = moved ? Geography.Postcode(rng, previousTown!) : null,
            Mobile = age >= 12 && rng.Chance(0.85) ? Geography.Mobile(rng) : null,
            Landline = age >= 50 && rng.Chance(0.5) ? Geography.Landline(rng) : null,
            NhsNumber = nhsNumber,
            Practice = practice,
            UsualGp = rng.Pick(practice.Gps),
            Conditions = conditions,
            Allergy = allergy,
        };
    }
}
