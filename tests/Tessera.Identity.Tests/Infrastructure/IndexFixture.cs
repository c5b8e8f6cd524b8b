using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.Identity.Matching;
using Tessera.Identity.Tests.Matching;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Identity.Tests.Infrastructure;

/// <summary>A store with the index on it per backend; tests use people with unique surnames so they can share it.</summary>
public sealed class IndexFixture : IAsyncLifetime
{
    public const string GpSystem = "https://example.org/gp-patient-id";
    public const string HospitalSystem = "https://example.org/hospital-mrn";
    public const string QuarantineSystem = "https://example.org/strict-pas";

    private readonly Dictionary<string, (TestDatabase Database, FhirStore Store, MasterPatientIndex Index)> _stores = [];

    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    public FhirStore Store(string backend) => _stores[backend].Store;

    public MasterPatientIndex Index(string backend) => _stores[backend].Index;

    public async System.Threading.Tasks.Task InitializeAsync()
    {
        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            var db = await TestDatabase.CreateAsync(backend);
            var store = await FhirStore.OpenAsync(db.Location);
            var options = new MpiOptions { Sources = { [QuarantineSystem] = new MpiSourceOptions { InvalidNhsNumber = InvalidNhsNumberPolicy.Quarantine } } };
            _stores[backend] = (db, store, await store.AddIdentityAsync(options));
        }
    }

    public async System.Threading.Tasks.Task DisposeAsync()
    {
        foreach (var (db, store, _) in _stores.Values)
        {
            await store.DisposeAsync();
            await db.DisposeAsync();
        }
    }
}

/// <summary>Builders and readers for the index tests.</summary>
internal static class People
{
    private static readonly Random Random = new(5);

    private static readonly List<(string Name, DoubleMetaphone.Keys Keys)> Issued = [];

    /// <summary>
    /// A surname no other test uses that also sounds like none of them and is not close in spelling, so that the index
    /// never takes two test people for one on their names (random letters alone sometimes sounded alike).
    /// </summary>
    public static string Surname()
    {
        lock (Issued)
        {
            while (true)
            {
                var name = "Zq" + Guid.NewGuid().ToString("N")[..8];
                var keys = DoubleMetaphone.Encode(name);
                if (Issued.Any(i => FieldComparer.CompareName(i.Name, name, i.Keys, keys) != NameLevel.Different))
                {
                    continue;
                }

                Issued.Add((name, keys));
                return name;
            }
        }
    }

    /// <summary>A birth date no other test uses, with a day from 10 to 18 so the next day differs in one digit.</summary>
    public static DateOnly BirthDate()
    {
        lock (Random)
        {
            return new DateOnly(1925 + Random.Next(80), 1 + Random.Next(12), 10 + Random.Next(9));
        }
    }

    public static string UniqueLine()
    {
        lock (Random)
        {
            return $"{Random.Next(1, 400)} {Surname()} Road";
        }
    }

    public static string UniquePostcode()
    {
        lock (Random)
        {
            return $"LS{Random.Next(1, 30)} {Random.Next(1, 10)}{(char)('A' + Random.Next(26))}{(char)('A' + Random.Next(26))}";
        }
    }

    public static string NhsNumber()
    {
        lock (Random)
        {
            return TestNhsNumbers.New(Random);
        }
    }

    public static Patient Patient(string system, string given, string family, string birthDate, string? nhs = null, string? postcode = null, string? line = null, AdministrativeGender gender = AdministrativeGender.Female, string? phone = null)
    {
        var patient = new Patient
        {
            Id = "p" + Guid.NewGuid().ToString("N")[..16],
            Name = [new HumanName { Use = HumanName.NameUse.Official, Family = family, Given = [given] }],
            BirthDate = birthDate,
            Gender = gender,
            Address = [new Address { Use = Address.AddressUse.Home, Line = [line ?? UniqueLine()], City = "Leeds", PostalCode = postcode ?? UniquePostcode() }],
            Identifier = [new Identifier(system, Guid.NewGuid().ToString("N")[..10])],
        };
        if (nhs is not null)
        {
            patient.Identifier.Insert(0, new Identifier(Tessera.Identity.NhsNumbers.NhsNumber.System, nhs));
        }

        if (phone is not null)
        {
            patient.Telecom.Add(new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Mobile, phone));
        }

        return patient;
    }

    public static async Task<FhirResponse> Send(this FhirStore store, string method, string url, Resource? body = null)
    {
        var response = await store.ExecuteAsync(FhirRequest.FromUrl(method, url, body));
        return response;
    }

    public static async Task<Patient> PutAsync(this FhirStore store, Patient patient)
    {
        var response = await store.Send("PUT", $"Patient/{patient.Id}", patient);
        Assert.True(response.Status is 200 or 201, $"PUT Patient/{patient.Id} answered {response.Status}");
        return patient;
    }

    public static async Task<T> ReadAsync<T>(this FhirStore store, string reference)
        where T : Resource
    {
        var response = await store.Send("GET", reference);
        Assert.True(response.Status == 200, $"GET {reference} answered {response.Status}");
        return (T)FhirStore.Materialise(response);
    }

    /// <summary>The current master Patient linking a source record (found with the R4 link search parameter).</summary>
    public static async Task<Patient> MasterOfAsync(this FhirStore store, string sourceId)
    {
        var masters = await store.MastersOfAsync(sourceId);
        return Assert.Single(masters);
    }

    public static async Task<List<Patient>> MastersOfAsync(this FhirStore store, string sourceId)
    {
        var response = await store.Send("GET", $"Patient?link=Patient/{sourceId}&_tag=urn:tessera:mpi|master&active=true");
        Assert.Equal(200, response.Status);
        return ((Bundle)response.Resource!).Entry.Select(e => (Patient)e.Resource!).ToList();
    }

    public static IEnumerable<string> Linked(this Patient master, Patient.LinkType type = Hl7.Fhir.Model.Patient.LinkType.Seealso) =>
        master.Link.Where(l => l.Type == type).Select(l => l.Other.Reference!).Order(StringComparer.Ordinal);

    public static Parameters Parameters(params (string Name, DataType Value)[] values)
    {
        var parameters = new Parameters();
        foreach (var (name, value) in values)
        {
            parameters.Add(name, value);
        }

        return parameters;
    }
}
