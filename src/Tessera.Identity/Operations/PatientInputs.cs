using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Operations;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Operations;

/// <summary>Reads the Patient-valued inputs the identity operations share: references, identifiers and flags.</summary>
internal static class PatientInputs
{
    /// <summary>
    /// The source Patient id named by <c>{name}</c> (a reference "Patient/id") or <c>{name}-identifier</c> (an
    /// Identifier, or "system|value" in a query); null when neither is given.
    /// </summary>
    public static async Task<string?> SourcePatientAsync(OperationInvocation invocation, string name, CancellationToken ct)
    {
        var reference = invocation.Parameters.Parameter.FirstOrDefault(p => p.Name == name)?.Value switch
        {
            ResourceReference r => r.Reference,
            PrimitiveType p => p.ToString(),
            null => null,
            var other => throw FhirException.BadRequest($"The parameter '{name}' must be a Reference to a Patient, not {other.TypeName}.", $"Parameters.parameter[{name}]"),
        };
        if (reference is not null)
        {
            var parts = reference.Split('/');
            if (parts.Length != 2 || parts[0] != "Patient" || parts[1].Length == 0)
            {
                throw FhirException.BadRequest($"The parameter '{name}' must reference a Patient as Patient/<id>; '{reference}' does not.", $"Parameters.parameter[{name}]");
            }

            return parts[1];
        }

        var identifier = invocation.Parameters.Parameter.FirstOrDefault(p => p.Name == name + "-identifier")?.Value switch
        {
            Identifier i => i,
            PrimitiveType p when p.ToString()!.Split('|') is [var system, var value] => new Identifier(system, value),
            null => null,
            _ => throw FhirException.BadRequest($"The parameter '{name}-identifier' must be an Identifier (system and value).", $"Parameters.parameter[{name}-identifier]"),
        };
        if (identifier is null)
        {
            return null;
        }

        var found = await FindByIdentifierAsync(invocation.Store, invocation.Transaction, identifier.System, identifier.Value, ct);
        return found.Count switch
        {
            0 => throw FhirException.NotFound($"No source Patient has the identifier {identifier.System}|{identifier.Value} given as '{name}-identifier'."),
            1 => found[0].Id,
            _ => throw FhirException.Unprocessable($"{found.Count} source Patients have the identifier {identifier.System}|{identifier.Value} given as '{name}-identifier'; name one with '{name}' instead."),
        };
    }

    /// <summary>Source Patients (not masters) carrying an identifier.</summary>
    public static async Task<List<Patient>> FindByIdentifierAsync(RecordStore.FhirStore store, StoreTransaction? tx, string? system, string? value, CancellationToken ct)
    {
        var token = Uri.EscapeDataString($"{system}|{value}");
        var request = FhirRequest.FromUrl("GET", $"Patient?identifier={token}&_count=100");
        var response = tx is null ? await store.ExecuteAsync(request, ct) : await store.ExecuteAsync(request, tx, ct);
        if (response.Status != 200 || response.Resource is not Bundle bundle)
        {
            throw new FhirException(response.Status, response.Outcome ?? Outcomes.Error(OperationOutcome.IssueType.Exception, "The identifier search failed."));
        }

        return bundle.Entry.Select(e => e.Resource).OfType<Patient>().Where(p => !PatientDemographics.IsMaster(p)).ToList();
    }

    public static bool Flag(OperationInvocation invocation, string name)
    {
        var value = invocation.Value(name);
        return value switch
        {
            null => false,
            "true" => true,
            "false" => false,
            _ => throw FhirException.BadRequest($"The parameter '{name}' must be true or false, not '{value}'.", $"Parameters.parameter[{name}]"),
        };
    }

    /// <summary>Reads a Patient by id, in the caller's transaction when there is one; 404 when there is none.</summary>
    public static async Task<(Patient Patient, long Version)> ReadPatientAsync(RecordStore.FhirStore store, StoreTransaction? tx, string id, CancellationToken ct)
    {
        var request = new FhirRequest { Method = "GET", Path = $"Patient/{id}" };
        var response = tx is null ? await store.ExecuteAsync(request, ct) : await store.ExecuteAsync(request, tx, ct);
        if (response.Status != 200)
        {
            throw new FhirException(response.Status == 410 ? 410 : 404, response.Outcome ?? Outcomes.Error(OperationOutcome.IssueType.NotFound, $"Patient/{id} is not known."));
        }

        return ((Patient)RecordStore.FhirStore.Materialise(response), response.Version ?? 0);
    }
}
