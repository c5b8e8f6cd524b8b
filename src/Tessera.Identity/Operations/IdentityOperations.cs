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

    /// <summary>Input parameter by which an internal caller (no access token) names itself as the decision's author.</summary>
    public const string AgentParameter = "tessera-agent";

    /// <summary>Input parameter by which an internal caller names what the decision rests on (an HL7 message).</summary>
    public const string SourceParameter = "tessera-source";

    /// <summary>
    /// Who is making a merge or unmerge, and on what evidence: an authenticated caller from its access token;
    /// an internal caller (the HL7 feed, the command line) from <c>tessera-agent</c> and <c>tessera-source</c>
    /// (References) when it gives them, else the index itself. A caller with a token may not name another author.
    /// </summary>
    public static (Provenance.AgentComponent? Agent, ResourceReference? Entity) Author(OperationInvocation invocation)
    {
        ResourceReference? Named(string name) => invocation.Parameters.Parameter.FirstOrDefault(p => p.Name == name)?.Value switch
        {
            null => null,
            ResourceReference reference => reference,
            var other => throw FhirException.BadRequest($"The parameter '{name}' must be a Reference, not {other.TypeName}.", $"Parameters.parameter[{name}]"),
        };

        var (agent, source) = (Named(AgentParameter), Named(SourceParameter));
        if (invocation.Request.Principal is { } principal)
        {
            if (agent is not null || source is not null)
            {
                throw FhirException.BadRequest($"'{AgentParameter}' and '{SourceParameter}' are for internal callers; you are recorded as the author from your access token. Remove them.", $"Parameters.parameter[{AgentParameter}]");
            }

            return (IndexAgents.FromPrincipal(principal), null);
        }

        return (agent is null ? null : IndexAgents.Author(agent), source);
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
