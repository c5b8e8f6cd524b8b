using Hl7.Fhir.Model;
using Tessera.Demo.Randomness;

namespace Tessera.Demo.People;

/// <summary>
/// Collects one person's resources as a transaction bundle. Each entry has a urn:uuid fullUrl equal to its id
/// and is created with PUT Type/id, so ids are stable across loads and entries reference each other by urn:uuid.
/// </summary>
internal sealed class TransactionBuilder(DemoRandom rng)
{
    public Bundle Bundle { get; } = new() { Type = Bundle.BundleType.Transaction };

    /// <summary>An id to reference before the resource exists (e.g. a plan that points at a flag added later).</summary>
    public string NewId() => rng.Uuid();

    public string Add(Resource resource) => Add(resource, NewId());

    public string Add(Resource resource, string id)
    {
        resource.Id = id;
        Bundle.Entry.Add(new Bundle.EntryComponent
        {
            FullUrl = $"urn:uuid:{id}",
            Resource = resource,
            Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{resource.TypeName}/{id}" },
        });
        return id;
    }
}
