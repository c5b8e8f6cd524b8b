using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Operations;

/// <summary>
/// <c>Patient/$merge</c>, shaped like FHIR R5's: <c>source-patient</c> and <c>target-patient</c> (references, or
/// <c>-identifier</c> variants). Source records are never changed: the source record's person becomes the target's
/// (one master), and the source record is retired on that master (link type replaced-by). Reversed by $unmerge.
/// </summary>
internal sealed class MergeOperation(MasterPatientIndex index) : FhirOperation
{
    public override string Name => "merge";

    public override OperationLevel Levels => OperationLevel.Type;

    public override IReadOnlyCollection<string> ResourceTypes => ["Patient"];

    public override string? Definition => "http://hl7.org/fhir/OperationDefinition/Patient-merge";

    public override string? Documentation => "Merges the source patient's person into the target patient's (source records unchanged; the master records the merge). Reversed by Patient/$unmerge.";

    public override async Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct)
    {
        if (invocation.Parameters.Parameter.Any(p => p.Name == "result-patient"))
        {
            throw FhirException.BadRequest("result-patient is not supported: Tessera never rewrites a source's Patient record; the master Patient carries the merge.", "Parameters.parameter[result-patient]", OperationOutcome.IssueType.NotSupported);
        }

        if (PatientInputs.Flag(invocation, "preview"))
        {
            throw FhirException.BadRequest("preview is not supported; a merge can be reversed with Patient/$unmerge.", "Parameters.parameter[preview]", OperationOutcome.IssueType.NotSupported);
        }

        var source = await PatientInputs.SourcePatientAsync(invocation, "source-patient", ct)
            ?? throw FhirException.BadRequest("Name the patient to merge with 'source-patient' (a Reference) or 'source-patient-identifier'.", "Parameters.parameter[source-patient]", OperationOutcome.IssueType.Required);
        var target = await PatientInputs.SourcePatientAsync(invocation, "target-patient", ct)
            ?? throw FhirException.BadRequest("Name the patient to merge into with 'target-patient' (a Reference) or 'target-patient-identifier'.", "Parameters.parameter[target-patient]", OperationOutcome.IssueType.Required);
        if (source == target)
        {
            throw FhirException.BadRequest($"source-patient and target-patient are both Patient/{source}; a patient cannot be merged into itself.", "Parameters.parameter[source-patient]");
        }

        var (agent, entity) = IdentityOperations.Author(invocation);
        var master = await index.UnderLockAsync(
            invocation.Transaction,
            async work =>
            {
                await IdentityOperations.EnsureIndexedAsync(work, invocation, source, ct);
                await IdentityOperations.EnsureIndexedAsync(work, invocation, target, ct);
                var refused = await Merges.LinkAsync(work, source, target, "merge", retireSource: true, agent, entity, $"Patient/$merge of Patient/{source} into Patient/{target}.", ct);
                if (refused is not null)
                {
                    throw FhirException.Unprocessable(refused);
                }

                return (await work.SourceAsync(target, ct))!.MasterId!;
            },
            ct);

        return await IdentityOperations.ResultAsync(invocation, master, $"Patient/{source} was merged into Patient/{target}; both belong to master Patient/{master}, where Patient/{source} is marked replaced-by.", ct);
    }
}

/// <summary>
/// <c>Patient/$unmerge</c> (and <c>Patient/[id]/$unmerge</c>): reverses the latest merge or steward link of
/// <c>source-patient</c> exactly, or separates an automatically linked record into a person of its own.
/// </summary>
internal sealed class UnmergeOperation(MasterPatientIndex index) : FhirOperation
{
    public override string Name => "unmerge";

    public override OperationLevel Levels => OperationLevel.Type | OperationLevel.Instance;

    public override IReadOnlyCollection<string> ResourceTypes => ["Patient"];

    public override string? Documentation => "Reverses the latest Patient/$merge (or confirmed review) of source-patient, or separates a wrongly linked record from its master; recorded as a Provenance.";

    public override async Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct)
    {
        var source = invocation.Id ?? await PatientInputs.SourcePatientAsync(invocation, "source-patient", ct)
            ?? throw FhirException.BadRequest("Name the patient to unmerge with 'source-patient' (a Reference) or 'source-patient-identifier', or invoke Patient/<id>/$unmerge.", "Parameters.parameter[source-patient]", OperationOutcome.IssueType.Required);
        var (agent, _) = IdentityOperations.Author(invocation);
        var outcome = await index.UnderLockAsync(
            invocation.Transaction,
            async work =>
            {
                await IdentityOperations.EnsureIndexedAsync(work, invocation, source, ct);
                return await Merges.UnmergeAsync(work, source, agent, $"Patient/$unmerge of Patient/{source}.", ct);
            },
            ct);
        return await IdentityOperations.ResultAsync(invocation, outcome.MasterId, outcome.Message, ct);
    }
}
