using System.Globalization;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;
using Tessera.Identity.Index;
using Tessera.RecordStore.Interactions;
using FhirTask = Hl7.Fhir.Model.Task;

namespace Tessera.Identity.Review;

/// <summary>
/// The review queue: a probable match becomes a FHIR Task (code urn:tessera:mpi|match-review) for a data steward.
/// The steward completes the Task with businessStatus urn:tessera:mpi|same-person or |different-person; the
/// index follows Task versions like Patient versions and acts on the decision.
/// </summary>
public static class ReviewTasks
{
    public const string CodeValue = "match-review";
    public const string SamePerson = "same-person";
    public const string DifferentPerson = "different-person";

    internal static async System.Threading.Tasks.Task OpenAsync(IndexWork work, string patientId, MasterCandidate candidate, CancellationToken ct)
    {
        var tx = work.Transaction;
        var open = Convert.ToInt64(await tx.ScalarAsync("SELECT COUNT(*) FROM mpi_review WHERE patient_id = @p AND master_id = @m AND status = 'requested'", ct, ("@p", patientId), ("@m", candidate.MasterId)), CultureInfo.InvariantCulture);
        if (open > 0)
        {
            return;
        }

        var best = candidate.Best;
        var task = new FhirTask
        {
            Status = FhirTask.TaskStatus.Requested,
            Intent = FhirTask.TaskIntent.Proposal,
            Priority = RequestPriority.Routine,
            Code = new CodeableConcept(PatientDemographics.TagSystem, CodeValue, "Review a possible patient match"),
            Focus = new ResourceReference($"Patient/{patientId}"),
            For = new ResourceReference($"Patient/{patientId}"),
            AuthoredOn = work.Index.Clock.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ssK", CultureInfo.InvariantCulture),
            Description = string.Create(CultureInfo.InvariantCulture, $"Is Patient/{patientId} the same person as master Patient/{candidate.MasterId} (closest record Patient/{best.Record.RecordId})? Score {best.Score:0.00} bits, match probability {best.Probability:0.0000}. Complete this task with businessStatus {PatientDemographics.TagSystem}|{SamePerson} or |{DifferentPerson}."),
            Meta = new Meta { Tag = [new Coding(PatientDemographics.TagSystem, "review")] },
            Input =
            [
                Input("candidate-master", new ResourceReference($"Patient/{candidate.MasterId}")),
                Input("candidate-record", new ResourceReference($"Patient/{best.Record.RecordId}")),
                Input("score", new FhirDecimal((decimal)Math.Round(best.Score, 2))),
                Input("probability", new FhirDecimal((decimal)Math.Round(best.Probability, 4))),
                Input("explanation", new FhirString(best.Explanation.ToString())),
            ],
        };
        var response = await work.ExecuteAsync(new FhirRequest { Method = "POST", Path = "Task", Resource = task }, ct);
        await tx.ExecuteAsync(
            "INSERT INTO mpi_review (task_id, patient_id, master_id, candidate_id, status, score, created) VALUES (@t, @p, @m, @c, 'requested', @s, @now)",
            ct, ("@t", response.Id), ("@p", patientId), ("@m", candidate.MasterId), ("@c", best.Record.RecordId), ("@s", best.Score), ("@now", work.Now));
        work.Index.Logger.LogInformation("Possible match of Patient/{Patient} with master Patient/{Master} ({Score:0.00} bits) sent for review as Task/{Task}", patientId, candidate.MasterId, best.Score, response.Id);
    }

    /// <summary>Acts on a review Task a steward has completed (or cancelled); every other version is ignored.</summary>
    internal static async System.Threading.Tasks.Task ApplyDecisionAsync(IndexWork work, FhirTask task, CancellationToken ct)
    {
        if (task.Code?.Coding.Any(c => c.System == PatientDemographics.TagSystem && c.Code == CodeValue) != true || task.Id is null)
        {
            return;
        }

        var tx = work.Transaction;
        var rows = await tx.QueryAsync("SELECT patient_id, candidate_id FROM mpi_review WHERE task_id = @t AND status = 'requested'", r => (Patient: r.GetString(0), Candidate: r.GetString(1)), ct, ("@t", task.Id));
        if (rows.Count == 0)
        {
            return;
        }

        var (patient, candidate) = rows[0];
        if (task.Status is FhirTask.TaskStatus.Cancelled or FhirTask.TaskStatus.EnteredInError)
        {
            await SetStatusAsync(tx, task.Id, "cancelled", ct);
            return;
        }

        if (task.Status != FhirTask.TaskStatus.Completed)
        {
            return;
        }

        var decision = task.BusinessStatus?.Coding.FirstOrDefault(c => c.System == PatientDemographics.TagSystem)?.Code;
        var who = task.Owner is { } owner ? IndexAgents.Author(owner) : null;
        var taskRef = new ResourceReference($"Task/{task.Id}");
        if (decision == SamePerson)
        {
            var refused = await Merges.LinkAsync(work, patient, candidate, "link", retireSource: false, who, taskRef, $"Data steward confirmed review Task/{task.Id}: same person.", ct);
            if (refused is not null)
            {
                await FailAsync(work, task, refused, ct);
                await SetStatusAsync(tx, task.Id, "refused", ct);
                return;
            }

            await SetStatusAsync(tx, task.Id, "confirmed", ct);
        }
        else if (decision == DifferentPerson)
        {
            var partner = await work.SourceAsync(candidate, ct);
            var members = partner?.MasterId is { } master ? await work.MembersAsync(master, ct) : [];
            foreach (var member in members.Where(m => m.Id != patient))
            {
                await Merges.ExcludeAsync(tx, patient, member.Id, task.Id, ct);
            }

            await work.RecordAsync("verify", "Verify", [$"Patient/{patient}", $"Patient/{candidate}", $"Task/{task.Id}"], $"Data steward decided in review Task/{task.Id}: different people; they are never linked automatically.", who, taskRef, ct);
            await SetStatusAsync(tx, task.Id, "rejected", ct);
            work.Index.Logger.LogInformation("Data steward decided Patient/{Patient} is not the person of Patient/{Candidate} (Task/{Task})", patient, candidate, task.Id);
        }
        else
        {
            await FailAsync(work, task, $"A completed review task needs businessStatus {PatientDemographics.TagSystem}|{SamePerson} or |{DifferentPerson}; complete a new review with one of them.", ct);
            await SetStatusAsync(tx, task.Id, "failed", ct);
        }
    }

    private static FhirTask.ParameterComponent Input(string type, DataType value) =>
        new() { Type = new CodeableConcept(PatientDemographics.TagSystem, type), Value = value };

    private static System.Threading.Tasks.Task SetStatusAsync(Tessera.RecordStore.Machinery.StoreTransaction tx, string taskId, string status, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE mpi_review SET status = @s WHERE task_id = @t", ct, ("@s", status), ("@t", taskId));

    /// <summary>Marks the Task failed with the reason, so the steward sees why the index did not act.</summary>
    private static async System.Threading.Tasks.Task FailAsync(IndexWork work, FhirTask task, string reason, CancellationToken ct)
    {
        task.Status = FhirTask.TaskStatus.Failed;
        task.StatusReason = new CodeableConcept { Text = reason };
        await work.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"Task/{task.Id}", Resource = task }, ct);
        work.Index.Logger.LogWarning("Review Task/{Task} not applied: {Reason}", task.Id, reason);
    }
}
