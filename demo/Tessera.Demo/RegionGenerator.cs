using Hl7.Fhir.Model;
using Tessera.Demo.Clinical;
using Tessera.Demo.People;
using Tessera.Demo.Randomness;
using Tessera.Demo.Region;

namespace Tessera.Demo;

/// <summary>
/// Generates the Tessvale demo region: first its organisations, sites, services and staff as transaction
/// bundles that create each resource with PUT at a fixed id, then one transaction bundle per person holding
/// every source system's Patient record for them and their history. Each person depends only on the seed and
/// their index, so <see cref="GeneratePerson"/> is thread-safe and people can be made in parallel or lazily,
/// and 100,000 people never need to be in memory at once.
/// </summary>
public sealed class RegionGenerator
{
    private const ulong PersonStream = 2;

    private readonly RegionDirectory _region;
    private readonly NhsNumberPool _nhsNumbers;

    public RegionGenerator(RegionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Patients < 0 || options.Patients > MaxPatients)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Patients, $"A demo region holds 0 to {MaxPatients:N0} people: that is how many NHS numbers the never-issued 999 range has.");
        }

        if (options.OrganisationBundleSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.OrganisationBundleSize, "Organisation bundles need room for at least one resource.");
        }

        Options = options;
        _region = new RegionDirectory(options.Seed, options.Patients);
        _nhsNumbers = new NhsNumberPool(options.Seed);
    }

    /// <summary>The most people one region can have (one distinct 999-range NHS number each).</summary>
    public static int MaxPatients => NhsNumberPool.Capacity;

    public RegionOptions Options { get; }

    /// <summary>The organisational resources (Organization, Location, HealthcareService, Practitioner, PractitionerRole) in load order.</summary>
    public IEnumerable<Bundle> OrganisationBundles()
    {
        foreach (var chunk in _region.Resources.Chunk(Options.OrganisationBundleSize))
        {
            var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
            foreach (var resource in chunk)
            {
                // Fresh copies so a caller that mutates a bundle cannot change what the next call returns.
                var copy = (Resource)resource.DeepCopy();
                bundle.Entry.Add(new Bundle.EntryComponent
                {
                    FullUrl = $"urn:uuid:{DeterministicUuid(copy.TypeName + "/" + copy.Id)}",
                    Resource = copy,
                    Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{copy.TypeName}/{copy.Id}" },
                });
            }

            yield return bundle;
        }
    }

    /// <summary>Every person in index order, generated lazily.</summary>
    public IEnumerable<PersonBundle> People()
    {
        for (var i = 0; i < Options.Patients; i++)
        {
            yield return GeneratePerson(i);
        }
    }

    /// <summary>Organisation bundles followed by every person's bundle: the order to load them in.</summary>
    public IEnumerable<Bundle> Bundles() => OrganisationBundles().Concat(People().Select(p => p.Bundle));

    /// <summary>Person number <paramref name="index"/> (0-based) with all their source records and history.</summary>
    public PersonBundle GeneratePerson(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Math.Max(Options.Patients, 1));

        var rng = DemoRandom.For(Options.Seed, PersonStream, (ulong)index);
        var person = PersonFactory.Create(rng, index, Options.ReferenceDate, _region, _nhsNumbers);
        var builder = new TransactionBuilder(rng);

        // Hospital contact is decided first because it decides whether the hospital holds a record at all.
        var registered = person.NhsNumber is not null;
        var emergencyRate = 0.25 + (person.Age >= 75 ? 0.35 : 0) + (person.Age < 5 ? 0.2 : 0) + 0.08 * person.Conditions.Count;
        var emergencyAttendances = Math.Min(8, rng.Poisson(emergencyRate));
        if (!registered)
        {
            // Visitors and the unregistered mostly meet the NHS at the front door of A&E.
            emergencyAttendances = Math.Max(1, emergencyAttendances);
        }

        var elective = person.Age >= 40 && rng.Chance(0.02 + 0.01 * person.Conditions.Count);
        var outpatientLikely = person.Conditions.Count > 0 && rng.Chance(0.5);
        var hasHospitalRecord = emergencyAttendances > 0 || elective || outpatientLikely || rng.Chance(0.15);
        var socialCareChance = person.Age switch
        {
            < 18 => 0.02,
            < 65 => 0.02,
            < 75 => 0.06,
            < 85 => 0.15,
            _ => 0.3,
        } + (person.Has("dementia") ? 0.3 : 0);
        var hasSocialCare = rng.Chance(socialCareChance);

        var truth = new List<TruthRecord>(3);
        SourcePatient? gp = registered ? SourceRecords.GeneralPractice(rng, builder, person) : null;
        SourcePatient? hospital = hasHospitalRecord ? SourceRecords.Hospital(rng, builder, person) : null;
        SourcePatient? social = hasSocialCare ? SourceRecords.SocialCare(rng, builder, person) : null;
        foreach (var source in new[] { gp, hospital, social })
        {
            if (source is not null)
            {
                truth.Add(new TruthRecord(source.Id, person.Id, source.Source, source.IdentifierSystem, source.IdentifierValue, source.Faults));
            }
        }

        new HistoryBuilder(rng, builder, person, _region, Options.ReferenceDate, gp, hospital, social)
            .Build(emergencyAttendances, elective);

        return new PersonBundle(index, person.Id, builder.Bundle, truth);
    }

    /// <summary>Org entries' fullUrls: stable per resource, independent of the seed.</summary>
    private static string DeterministicUuid(string key)
    {
        var rng = new DemoRandom((ulong)key.GetStableHash() * 0x9E3779B97F4A7C15UL ^ (ulong)key.Length);
        return rng.Uuid();
    }
}
