using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Operations;

/// <summary>What the identity operations share: making sure a record is indexed, and the Parameters they answer with.</summary>
internal static class IdentityOperations
{
    /// <summary>Indexes a source Patient now if the feed has not reached it yet (it may have been written in the caller's transaction).</summary>
    public static async System.Threading.Tasks.Task EnsureIndexedAsync(IndexWork work, OperationInvocation invocation, string id, CancellationToken ct)
    {
        var (patient, version) = await PatientInputs.ReadPatientAsync(invocation.Store, work.Transaction, id, ct);
        if (PatientDemographics.IsMaster(patient))
        {
            throw FhirException.Unprocessable($"Patient/{id} is a master record of the patient index; name the source Patient records instead (masters follow them).");
        }

        var row = await work.SourceAsync(id, ct);
        if (row is null || row.Deleted || row.Version < version)
        {
            await work.SourceWrittenAsync(patient, version, ct);
        }
    }

    /// <summary>Parameters with the input, an information outcome and the master as <c>result</c> (as R5 $merge answers).</summary>
    public static async Task<FhirResponse> ResultAsync(OperationInvocation invocation, string master, string message, CancellationToken ct)
    {
        var (result, _) = await PatientInputs.ReadPatientAsync(invocation.Store, invocation.Transaction, master, ct);
        var parameters = new Parameters();
        parameters.Parameter.Add(new Parameters.ParameterComponent { Name = "input", Resource = invocation.Parameters });
        parameters.Parameter.Add(new Parameters.ParameterComponent
        {
            Name = "outcome",
            Resource = new OperationOutcome { Issue = [new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Information, Code = OperationOutcome.IssueType.Informational, Diagnostics = message }] },
        });
        parameters.Parameter.Add(new Parameters.ParameterComponent { Name = "result", Resource = result });
        return new FhirResponse { Status = 200, Resource = parameters };
    }
}
