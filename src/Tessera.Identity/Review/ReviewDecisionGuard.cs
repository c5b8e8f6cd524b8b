using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using FhirTask = Hl7.Fhir.Model.Task;

namespace Tessera.Identity.Review;

/// <summary>
/// Records who decided a review: when an authenticated caller writes a review Task as completed or cancelled,
/// its owner becomes that caller (whatever the body said), so the index's Provenance for the decision names the
/// steward who made it, not whoever the client claimed. A review Task can only be decided with a whole-resource
/// write (PUT); a PATCH of one is refused, because the decider could not be recorded.
/// </summary>
internal sealed class ReviewDecisionGuard : FhirRequestGuard
{
    public override ValueTask<FhirRequest> BeforeAsync(FhirStore store, FhirRequest request, CancellationToken ct)
    {
        if (request.Method == "PATCH" && request.Path.StartsWith("Task/", StringComparison.Ordinal))
        {
            return PatchAsync(store, request, ct);
        }

        if (request.Method is not ("PUT" or "POST") || request.Resource is not FhirTask task || !IsReview(task)
            || task.Status is not (FhirTask.TaskStatus.Completed or FhirTask.TaskStatus.Cancelled or FhirTask.TaskStatus.EnteredInError))
        {
            return ValueTask.FromResult(request);
        }

        if (IndexAgents.FromPrincipal(request.Principal) is { Who: { } who })
        {
            var decided = (FhirTask)task.DeepCopy();
            decided.Owner = who;
            return ValueTask.FromResult(request with { Resource = decided });
        }

        return ValueTask.FromResult(request);
    }

    private static async ValueTask<FhirRequest> PatchAsync(FhirStore store, FhirRequest request, CancellationToken ct)
    {
        var current = await store.ExecuteAsync(new FhirRequest { Method = "GET", Path = request.Path }, ct);
        if (current.Status == 200 && FhirStore.Materialise(current) is FhirTask task && IsReview(task))
        {
            throw FhirException.BadRequest($"{request.Path} is a patient-match review; decide it with PUT of the whole Task (status and businessStatus) so that the decision is recorded with who made it.", "Task");
        }

        return request;
    }

    private static bool IsReview(FhirTask task) =>
        task.Code?.Coding.Any(c => c.System == PatientDemographics.TagSystem && c.Code == ReviewTasks.CodeValue) == true;
}
