using Tessera.Governance.Audit;
using Tessera.Governance.Policy;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;

namespace Tessera.Governance.SubjectAccess;

/// <summary>
/// <c>GET|POST Patient/[id]/$export-record</c>: a subject access request — everything held about the person,
/// including who has looked at their record, as a collection Bundle. For the person themselves or the
/// information governance lead on their behalf (the policy decides; the export runs within the person's record only).
/// </summary>
internal sealed class ExportRecordOperation(RecordExporter exporter, AuditTrail audit) : FhirOperation
{
    public const string OperationName = "export-record";

    public override string Name => OperationName;

    public override OperationLevel Levels => OperationLevel.Instance;

    public override IReadOnlyCollection<string> ResourceTypes => ["Patient"];

    public override bool AffectsState => false;

    public override string? Documentation => "Subject access: every resource of the person's records and the audit of access to them, as a collection Bundle.";

    public override async Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct)
    {
        var bundle = await exporter.ExportAsync(invocation.Id!, invocation.Request, ct);
        if (invocation.Request.Principal is { } principal)
        {
            var caller = Caller.From(principal);
            var entry = AuditEvents.ForGovernanceEvent("subject-access-export", "Subject access export", caller, principal, invocation.Request.ClientAddress, invocation.Id, GovernancePolicy.Purpose(caller) == "PATRQT" ? "PATRQT" : "HOPERAT", $"{bundle.Entry.Count} resources exported", audit.Now);
            await await audit.EnqueueAsync(entry);
        }

        return new FhirResponse { Resource = bundle };
    }
}
