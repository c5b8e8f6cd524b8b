using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;

namespace Tessera.RecordStore.Search.Reindex;

/// <summary>
/// <c>POST [base]/$reindex</c> and <c>POST [base]/Type/$reindex</c>: queues a background job that re-extracts
/// the search index of every current resource (of that type), e.g. after a custom SearchParameter was added.
/// Answers 202 with Content-Location naming the job's status (<c>$reindex-status?job=</c>).
/// </summary>
internal sealed class ReindexOperation(TimeProvider clock) : FhirOperation
{
    public const string OperationName = "reindex";

    public override string Name => OperationName;

    public override OperationLevel Levels => OperationLevel.System | OperationLevel.Type;

    public override string Documentation =>
        "Queues a resumable background job that re-indexes current resources (all, or of the type) with the search parameters in use now; "
        + "202 with Content-Location of $reindex-status?job=<id>, which reports progress, failures and state.";

    public override async Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct)
    {
        var scope = invocation.ResourceType ?? ReindexJob.AllTypes;
        ReindexJob job;
        if (invocation.Transaction is { } outer)
        {
            job = await ReindexJobs.QueueAsync(outer, scope, clock.GetUtcNow(), ct);
        }
        else
        {
            job = await invocation.Store.WriteAsync(tx => ReindexJobs.QueueAsync(tx, scope, clock.GetUtcNow(), ct), ct);
        }

        var status = ReindexStatusOperation.StatusUrl(invocation.Request.BaseUrl, job.Id);
        return new FhirResponse
        {
            Status = 202,
            ContentLocation = status,
            Resource = Outcomes.Information(
                $"Reindex job {job.Id} queued for {(scope == ReindexJob.AllTypes ? "every resource type" : scope)} ({job.Total.ToString(CultureInfo.InvariantCulture)} resources); follow its progress at {status}."),
        };
    }
}

/// <summary>
/// <c>GET [base]/$reindex-status?job=id</c>: a job's state (queued, running, stalled, completed), counts, cursor,
/// heartbeat and the resources that failed with their reasons, as a Parameters resource.
/// </summary>
internal sealed class ReindexStatusOperation(TimeProvider clock) : FhirOperation
{
    private const int MaxFailuresListed = 100;

    public override string Name => "reindex-status";

    public override OperationLevel Levels => OperationLevel.System;

    public override bool AffectsState => false;

    public override string Documentation =>
        "The state of a $reindex job (job=<id>): queued, running, stalled (no heartbeat for longer than a worker takes over) or completed; total, done, failed, "
        + "cursor, heartbeat, last error and up to 100 failed resources with reasons.";

    public static string StatusUrl(string baseUrl, string job) => $"{baseUrl.TrimEnd('/')}/$reindex-status?job={Uri.EscapeDataString(job)}";

    public override async Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct)
    {
        var id = invocation.Value("job") ?? throw FhirException.BadRequest("$reindex-status needs job=<id>, as given in the Content-Location of $reindex.", "job");
        await using var connection = await invocation.Store.OpenConnectionAsync(ct);
        var job = await ReindexJobs.ReadAsync(connection, null, id, ct) ?? throw FhirException.NotFound($"There is no reindex job {id}.");
        var failures = await ReindexJobs.FailuresAsync(connection, id, MaxFailuresListed, ct);
        var stale = job.Status == ReindexJob.Running && job.Heartbeat is { } beat && clock.GetUtcNow() - beat > ReindexDefaults.StaleAfter;
        var result = new Parameters();
        result.Add("job", new FhirString(job.Id));
        result.Add("scope", new FhirString(job.Scope));
        result.Add("state", new Code(stale ? "stalled" : job.Status));
        result.Add("total", new Integer64(job.Total));
        result.Add("done", new Integer64(job.Done));
        result.Add("failed", new Integer64(job.Failed));
        result.Add("created", new FhirDateTime(job.Created));
        if (job.Heartbeat is { } heartbeat)
        {
            result.Add("heartbeat", new FhirDateTime(heartbeat));
        }

        if (job.Finished is { } finished)
        {
            result.Add("finished", new FhirDateTime(finished));
        }

        if (job.CursorType is not null)
        {
            result.Add("cursor", new FhirString($"{job.CursorType}/{job.CursorId}"));
        }

        if (job.Owner is not null)
        {
            result.Add("worker", new FhirString(job.Owner));
        }

        if (job.LastError is not null)
        {
            result.Add("lastError", new FhirString(job.LastError));
        }

        foreach (var (type, resourceId, reason) in failures)
        {
            result.Parameter.Add(new Parameters.ParameterComponent
            {
                Name = "failure",
                Part =
                [
                    new() { Name = "resource", Value = new FhirString($"{type}/{resourceId}") },
                    new() { Name = "reason", Value = new FhirString(reason) },
                ],
            });
        }

        return new FhirResponse { Resource = result };
    }
}

/// <summary>Defaults shared by the worker and the status report.</summary>
internal static class ReindexDefaults
{
    /// <summary>A running job without a heartbeat for this long is reported stalled and taken over by a worker.</summary>
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(2);
}
