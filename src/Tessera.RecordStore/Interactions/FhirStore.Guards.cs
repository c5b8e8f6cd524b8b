using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore;

/// <summary>The guards every authenticated interaction passes through (scopes, access policy).</summary>
public sealed partial class FhirStore
{
    private FhirRequestGuard[] _guards = [];

    /// <summary>The registered guards, in the order they run before an interaction.</summary>
    public IReadOnlyList<FhirRequestGuard> Guards => _guards;

    /// <summary>Adds a guard; register guards at start-up, before the store serves requests.</summary>
    public void AddGuard(FhirRequestGuard guard)
    {
        lock (_guardsLock)
        {
            _guards = [.. _guards, guard];
        }
    }

    /// <summary>
    /// The id of the Patient whose compartment a resource belongs to (the key the store files it under):
    /// a Patient's own id, the patient a compartment resource references, or null for resources outside it.
    /// </summary>
    public string? CompartmentPatientOf(Resource resource) => ResourceIndexer.PatientKey(resource, _indexer.Extract(resource));

    /// <summary>Whether resources of a type belong to a patient's compartment (FHIR R4 CompartmentDefinition patient).</summary>
    public static bool IsPatientCompartmentType(string resourceType) => PatientCompartment.IsInCompartment(resourceType);

    private readonly Lock _guardsLock = new();

    private async Task<FhirResponse> GuardedDispatchAsync(FhirRequest request, WriteScope? scope, CancellationToken ct)
    {
        var guards = _guards;
        if (request.Principal is null || guards.Length == 0)
        {
            return await DispatchCoreAsync(request, scope, ct);
        }

        foreach (var guard in guards)
        {
            request = await guard.BeforeAsync(this, request, ct);
        }

        var response = await DispatchCoreAsync(request, scope, ct);
        if (response.Status >= 400)
        {
            return response;
        }

        for (var i = guards.Length - 1; i >= 0; i--)
        {
            response = await guards[i].AfterAsync(this, request, response, ct);
        }

        return response;
    }
}
