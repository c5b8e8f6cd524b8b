using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Tessera.Demo.People;
using Tessera.Identity.NhsNumbers;

namespace Tessera.Demo.Tests;

public sealed class RegionGeneratorTests
{
    private static RegionSample Sample => RegionSample.Instance;

    private static IEnumerable<string> AllJson(RegionGenerator generator) =>
        generator.Bundles().Select(b => RegionSample.Json(b));

    [Fact]
    public void Same_seed_gives_identical_json()
    {
        var a = AllJson(new RegionGenerator(new RegionOptions { Patients = 40, Seed = 7 })).ToList();
        var b = AllJson(new RegionGenerator(new RegionOptions { Patients = 40, Seed = 7 })).ToList();
        Assert.Equal(a, b);
    }

    [Fact]
    public void A_person_is_the_same_whether_generated_alone_or_in_sequence()
    {
        var generator = new RegionGenerator(new RegionOptions { Patients = 40, Seed = 7 });
        var inSequence = generator.People().ToList();
        var alone = new RegionGenerator(new RegionOptions { Patients = 40, Seed = 7 }).GeneratePerson(31);
        Assert.Equal(RegionSample.Json(inSequence[31].Bundle), RegionSample.Json(alone.Bundle));
    }

    [Fact]
    public void Different_seed_gives_different_people()
    {
        var a = new RegionGenerator(new RegionOptions { Patients = 20, Seed = 7 }).People().Select(p => RegionSample.Json(p.Bundle)).ToList();
        var b = new RegionGenerator(new RegionOptions { Patients = 20, Seed = 8 }).People().Select(p => RegionSample.Json(p.Bundle)).ToList();
        Assert.All(a.Zip(b), pair => Assert.NotEqual(pair.First, pair.Second));
    }

    [Fact]
    public void Nhs_numbers_are_valid_unique_and_from_the_999_range()
    {
        var byPerson = new Dictionary<string, string>();
        var withoutNumber = 0;
        foreach (var person in Sample.Persons)
        {
            var numbers = person.Bundle.Entry.Select(e => e.Resource).OfType<Patient>()
                .SelectMany(p => p.Identifier).Where(i => i.System == NhsNumber.System).Select(i => i.Value).Distinct().ToList();
            Assert.True(numbers.Count <= 1, "one person's source records never disagree on the NHS number");
            if (numbers.Count == 0)
            {
                withoutNumber++;
                continue;
            }

            var number = numbers[0];
            Assert.StartsWith("999", number);
            Assert.True(NhsNumber.IsValid(number), $"{number} has a valid check digit");
            Assert.DoesNotContain(number, byPerson.Values);
            byPerson[person.PersonId] = number;
        }

        // About 2% have none; a few more lose it to the missing-number fault in every source they appear in.
        Assert.InRange(withoutNumber / (double)RegionSample.People, 0.005, 0.05);
    }

    [Fact]
    public void Nhs_number_pool_is_unique_over_many_people()
    {
        var pool = new NhsNumberPool(99);
        var seen = new HashSet<string>();
        for (var i = 0; i < 50_000; i++)
        {
            var number = pool.For(i);
            Assert.True(NhsNumber.IsValid(number));
            Assert.True(seen.Add(number), $"person {i} got a number already given");
        }

        Assert.InRange(NhsNumberPool.Capacity, 900_000, 910_000);
    }

    [Fact]
    public void Every_reference_resolves_within_the_bundle_or_to_an_organisational_resource()
    {
        var shared = Sample.OrganisationResources.Select(r => $"{r.TypeName}/{r.Id}").ToHashSet();
        foreach (var resource in Sample.OrganisationResources)
        {
            Assert.All(RegionSample.References(resource), reference => Assert.Contains(reference, shared));
        }

        foreach (var person in Sample.Persons.Take(400))
        {
            var local = person.Bundle.Entry.Select(e => e.FullUrl).ToHashSet();
            foreach (var entry in person.Bundle.Entry)
            {
                Assert.StartsWith("urn:uuid:", entry.FullUrl);
                Assert.Equal($"{entry.Resource!.TypeName}/{entry.Resource.Id}", entry.Request!.Url);
                foreach (var reference in RegionSample.References(entry.Resource))
                {
                    Assert.True(local.Contains(reference) || shared.Contains(reference), $"{entry.Resource.TypeName} references {reference}, which nothing creates");
                }
            }
        }
    }

    [Fact]
    public void Truth_names_every_source_patient_once_and_each_person_has_one_to_three_records()
    {
        var seen = new HashSet<string>();
        foreach (var person in Sample.Persons)
        {
            var patients = person.Bundle.Entry.Select(e => e.Resource).OfType<Patient>().ToList();
            Assert.InRange(person.Truth.Count, 1, 3);
            Assert.Equal(patients.Count, person.Truth.Count);
            Assert.Equal(person.Truth.Count, person.Truth.Select(t => t.Source).Distinct().Count());
            foreach (var record in person.Truth)
            {
                Assert.Equal(person.PersonId, record.PersonId);
                Assert.True(seen.Add(record.SourcePatientId), "a source patient appears once in the truth");
                var patient = Assert.Single(patients, p => p.Id == record.SourcePatientId);
                Assert.Contains(patient.Identifier, i => i.System == record.IdentifierSystem && i.Value == record.IdentifierValue);
            }
        }

        var bySource = Sample.Persons.SelectMany(p => p.Truth).GroupBy(t => t.Source).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(bySource[SourceSystem.GeneralPractice] > RegionSample.People * 0.9);
        Assert.InRange(bySource[SourceSystem.Hospital], RegionSample.People / 5, RegionSample.People * 4 / 5);
        Assert.InRange(bySource[SourceSystem.SocialCare], RegionSample.People / 100, RegionSample.People / 5);
        Assert.True(Sample.Persons.Count(p => p.Truth.Count > 1) > RegionSample.People / 5, "many people arrive from more than one source");
    }

    [Fact]
    public void Source_records_carry_the_data_quality_faults_real_feeds_have()
    {
        var faults = Sample.Persons.SelectMany(p => p.Truth).Select(t => t.Faults).ToList();
        foreach (var fault in Enum.GetValues<DataQualityFault>().Where(f => f != DataQualityFault.None))
        {
            Assert.Contains(faults, f => f.HasFlag(fault));
        }

        Assert.InRange(faults.Count(f => f == DataQualityFault.None) / (double)faults.Count, 0.6, 0.98);
    }

    [Fact]
    public void Clinical_resources_reference_their_own_source_patient()
    {
        foreach (var person in Sample.Persons.Take(400))
        {
            var sources = person.Truth.ToDictionary(t => $"urn:uuid:{t.SourcePatientId}", t => t.Source);
            foreach (var resource in person.Bundle.Entry.Select(e => e.Resource!))
            {
                var subject = resource switch
                {
                    Encounter e when e.ServiceProvider.Reference == "Organization/tv-acute-trust" => (e.Subject.Reference, SourceSystem.Hospital),
                    DocumentReference d => (d.Subject.Reference, SourceSystem.Hospital),
                    EpisodeOfCare ep when ep.ManagingOrganization.Reference == "Organization/tv-county-council" => (ep.Patient.Reference, SourceSystem.SocialCare),
                    MedicationRequest { Medication: CodeableConcept } m => (m.Subject.Reference, SourceSystem.GeneralPractice),
                    MedicationRequest { Medication: ResourceReference } m => (m.Subject.Reference, SourceSystem.Hospital),
                    Composition c => (c.Subject.Reference, SourceSystem.Hospital),
                    _ => default,
                };
                if (subject.Reference is not null)
                {
                    Assert.Equal(subject.Item2, sources[subject.Reference]);
                }
            }
        }
    }

    [Fact]
    public void Every_resource_declares_a_uk_core_profile_and_patients_carry_ethnic_category()
    {
        var resources = Sample.OrganisationResources.Concat(Sample.Persons.Take(300).SelectMany(p => p.Bundle.Entry).Select(e => e.Resource!));
        foreach (var resource in resources)
        {
            var profile = Assert.Single(resource.Meta.Profile);
            Assert.StartsWith("https://fhir.hl7.org.uk/StructureDefinition/UKCore-", profile);
            Assert.EndsWith(resource.TypeName, profile.Split('/')[^1].Split('-')[1]);
            switch (resource)
            {
                case Patient patient:
                    var ethnic = Assert.Single(patient.Extension, x => x.Url == "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory");
                    Assert.Equal("https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategory", ((CodeableConcept)ethnic.Value).Coding[0].System);
                    Assert.Matches(@"^TV\d{1,2} \d[ABD-HJLNP-UW-Z]{2}$", patient.Address[0].PostalCode);
                    break;
                case Organization organization:
                    Assert.Contains(organization.Identifier, i => i.System == "https://fhir.nhs.uk/Id/ods-organization-code");
                    break;
                case MedicationRequest request:
                    Assert.NotNull(request.Substitution);
                    if (request.Medication is CodeableConcept concept)
                    {
                        Assert.Equal("https://dmd.nhs.uk", concept.Coding[0].System);
                    }
                    else
                    {
                        Assert.StartsWith("Medication/tv-med-", ((ResourceReference)request.Medication).Reference);
                    }

                    break;
                case Medication medication:
                    Assert.Equal("https://dmd.nhs.uk", medication.Code.Coding[0].System);
                    break;
                case Observation { Category: [{ Coding: [{ Code: "laboratory" }] }] } lab when lab.Value is Quantity quantity:
                    Assert.Equal("http://unitsofmeasure.org", quantity.System);
                    Assert.NotNull(Assert.Single(lab.ReferenceRange).Low ?? lab.ReferenceRange[0].High);
                    Assert.Single(lab.Interpretation);
                    break;
                case Observation { Code.Coding: [{ Code: "85354-9" }, ..] } bp:
                    Assert.Equal(2, bp.Component.Count);
                    Assert.All(bp.Component, c => Assert.Equal("mm[Hg]", ((Quantity)c.Value).Code));
                    break;
            }
        }
    }

    [Fact]
    public void Ages_and_conditions_look_like_englands()
    {
        var reference = Sample.Options.ReferenceDate;
        var people = Sample.Persons.Select(p =>
        {
            var patient = p.Bundle.Entry.Select(e => e.Resource).OfType<Patient>().First();
            var age = reference.Year - DateOnly.Parse(patient.BirthDate, System.Globalization.CultureInfo.InvariantCulture).Year;
            var conditions = p.Bundle.Entry.Select(e => e.Resource).OfType<Condition>()
                .Where(c => c.Category[0].Coding[0].Code == "problem-list-item").Select(c => c.Code.Coding[0].Code).ToHashSet();
            return (Age: age, Conditions: conditions);
        }).ToList();

        double Share(Func<(int Age, HashSet<string> Conditions), bool> filter, IEnumerable<(int Age, HashSet<string> Conditions)> of)
        {
            var list = of.ToList();
            return list.Count(filter) / (double)list.Count;
        }

        // England: about 19% aged 65+, 21% under 18.
        Assert.InRange(Share(p => p.Age >= 65, people), 0.15, 0.24);
        Assert.InRange(Share(p => p.Age < 18, people), 0.16, 0.27);
        Assert.InRange(Share(p => p.Age >= 85, people), 0.01, 0.05);

        // Hypertension: rare under 40, common from 60; diabetes about 7% of adults.
        Assert.InRange(Share(p => p.Conditions.Contains("38341003"), people.Where(p => p.Age >= 60)), 0.25, 0.6);
        Assert.InRange(Share(p => p.Conditions.Contains("38341003"), people.Where(p => p.Age < 40)), 0.0, 0.06);
        Assert.InRange(Share(p => p.Conditions.Contains("44054006"), people.Where(p => p.Age >= 18)), 0.03, 0.12);
        Assert.InRange(Share(p => p.Conditions.Contains("195967001"), people), 0.03, 0.12);
        Assert.Equal(0, Share(p => p.Conditions.Contains("52448006"), people.Where(p => p.Age < 60)));

        var olderLoad = people.Where(p => p.Age >= 70).Average(p => p.Conditions.Count);
        var youngerLoad = people.Where(p => p.Age is >= 18 and < 40).Average(p => p.Conditions.Count);
        Assert.True(olderLoad > 3 * youngerLoad, $"older people have more conditions ({olderLoad:F2} vs {youngerLoad:F2})");

        var olderContacts = Sample.Persons.Where((p, i) => people[i].Age >= 70).Average(p => p.Bundle.Entry.Count(e => e.Resource is Encounter));
        var youngerContacts = Sample.Persons.Where((p, i) => people[i].Age is >= 18 and < 40).Average(p => p.Bundle.Entry.Count(e => e.Resource is Encounter));
        Assert.True(olderContacts > 2 * youngerContacts, $"older people have more contacts ({olderContacts:F1} vs {youngerContacts:F1})");
    }

    [Fact]
    public void The_region_has_the_organisations_a_region_has()
    {
        var organisations = Sample.OrganisationResources.OfType<Organization>().ToList();
        var types = organisations.Select(o => o.Type[0].Text).ToList();
        foreach (var expected in new[] { "GP practice", "NHS acute trust", "NHS community trust", "NHS mental health trust", "Local authority (adult and children's social care)", "Hospice (charity)", "NHS ambulance trust", "NHS 111 provider", "Community pharmacy", "Voluntary sector" })
        {
            Assert.Contains(expected, types);
        }

        Assert.Equal(1, types.Count(t => t == "GP practice")); // 1,500 people: at least one practice
        Assert.Equal(13, new RegionGenerator(new RegionOptions { Patients = 100_000 }).OrganisationBundles().SelectMany(b => b.Entry)
            .Select(e => e.Resource).OfType<Organization>().Count(o => o.Type[0].Text == "GP practice"));
        Assert.All(Sample.OrganisationResources.OfType<Location>(), l => Assert.NotNull(l.Position));
        Assert.Contains(Sample.OrganisationResources.OfType<PractitionerRole>(), r => r.Code[0].Coding[0].Display == "Paramedic");
        Assert.Contains(Sample.OrganisationResources.OfType<PractitionerRole>(), r => r.Code[0].Coding[0].Display == "Social worker");
    }

    [Fact]
    public void Histories_include_discharge_summaries_end_of_life_plans_opt_outs_and_social_care()
    {
        var resources = Sample.Persons.SelectMany(p => p.Bundle.Entry).Select(e => e.Resource!).ToList();
        var summary = resources.OfType<DocumentReference>().First();
        var text = System.Text.Encoding.UTF8.GetString(summary.Content[0].Attachment.Data);
        Assert.StartsWith("DISCHARGE SUMMARY", text);

        var plans = resources.OfType<CarePlan>().Where(p => p.Category[0].Coding is [{ Code: "736373009" }]).ToList();
        Assert.NotEmpty(plans);
        Assert.All(plans, p => Assert.StartsWith("Preferred place of care: ", p.Activity[0].Detail.Description));
        Assert.All(plans, p => Assert.Single(p.CareTeam));
        Assert.Contains(resources.OfType<Flag>(), f => f.Code.Coding[0].Code == "304253006");
        Assert.Contains(resources.OfType<Consent>(), c => c.Provision.Type == Consent.ConsentProvisionType.Deny);
        Assert.Contains(resources.OfType<EpisodeOfCare>(), e => e.ManagingOrganization.Reference == "Organization/tv-county-council");
        Assert.Contains(resources.OfType<Encounter>(), e => e.Class.Code == "IMP" && e.Period.End is not null);
        Assert.Contains(resources.OfType<Encounter>(), e => e.Class.Code == "EMER");
        Assert.Contains(resources.OfType<AllergyIntolerance>(), a => a.Code.Coding[0].Code == "91936005");
        Assert.Contains(resources.OfType<Observation>(), o => o.Code.Coding[0].Code == "62238-1");
    }

    [Fact]
    public void All_resources_serialise_and_reparse_with_the_firely_parser()
    {
        var deserializer = new FhirJsonDeserializer();
        var bundles = Sample.OrganisationBundles.Concat(Sample.Persons.Take(100).Select(p => p.Bundle));
        foreach (var bundle in bundles)
        {
            var json = RegionSample.Json(bundle);
            var parsed = Assert.IsType<Bundle>(deserializer.DeserializeResource(json));
            Assert.Equal(bundle.Entry.Count, parsed.Entry.Count);
            Assert.Equal(json, RegionSample.Json(parsed));
        }
    }

    [Fact]
    public void Typos_always_change_the_name()
    {
        var rng = new Randomness.DemoRandom(5);
        foreach (var name in new[] { "Al", "Anna", "Lee", "Smith", "O'Brien", "Oo" })
        {
            for (var i = 0; i < 50; i++)
            {
                Assert.NotEqual(name, SourceRecords.Typo(rng, name));
            }
        }
    }

    [Fact]
    public void Rejects_more_people_than_the_999_range_can_number()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RegionGenerator(new RegionOptions { Patients = RegionGenerator.MaxPatients + 1 }));
    }
}
