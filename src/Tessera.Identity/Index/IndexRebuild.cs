using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Tessera.Identity.Matching;
using Tessera.Identity.Review;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using CodeableConcept = Hl7.Fhir.Model.CodeableConcept;
using FhirTask = Hl7.Fhir.Model.Task;

namespace Tessera.Identity.Index;

/// <summary>How far a rebuild has got: the stage, and how much of it is done.</summary>
public sealed record RebuildProgress(string Stage, long Done, long Total);

/// <summary>What a rebuild found and changed.</summary>
/// <param name="Records">Source records indexed (not deleted).</param>
/// <param name="Masters">People (master Patients) after the rebuild.</param>
/// <param name="AutomaticLinks">Records linked to their master automatically.</param>
/// <param name="ReviewItemsOpened">Probable matches sent for review by this rebuild.</param>
/// <param name="OpenReviews">Review Tasks still open after it.</param>
/// <param name="RecordsMoved">Records whose master changed.</param>
/// <param name="MastersWritten">Master Patients written (a new version, or created).</param>
/// <param name="MastersRetired">Masters whose every record joined another person (kept inactive, replaced-by it).</param>
/// <param name="CandidatePairs">Pairs of records compared.</param>
public sealed record RebuildSummary(
    long Records, long Masters, long AutomaticLinks, long ReviewItemsOpened, long OpenReviews, long RecordsMoved, long MastersWritten, long MastersRetired, long CandidatePairs)
{
    public TimeSpan Elapsed { get; init; }
}

/// <summary>
/// Re-matches the whole index at once, inside one transaction holding the feed's lock: every indexed source
/// record is compared with every candidate of its blocks (as a first-time deduplication would), the auto-link
/// pairs are clustered strongest first, and the result is reconciled with the masters that exist. Decisions
/// people made are kept: a merge or confirmed review joins its records whatever the scores say, a steward's
/// "different people" keeps them apart, two valid NHS numbers are never joined, quarantined records link only
/// by such decisions. Each person keeps the existing master that holds most of its records, so running it
/// again on unchanged data changes nothing.
/// </summary>
internal static class IndexRebuild
{
    private sealed record Row(string Id, string? Master, string? Kind, bool Quarantined, string? ValidNhs, string? Person);

    public static async Task<RebuildSummary> RunAsync(IndexWork work, IProgress<RebuildProgress>? progress, CancellationToken ct)
    {
        var tx = work.Transaction;
        var engine = work.Index.Engine;

        // Whatever was written since the caller caught up is indexed first, under the same lock.
        progress?.Report(new RebuildProgress("Catching up with the record store", 0, 1));
        while (await work.FollowFeedAsync(horizon: 0, ct) > 0)
        {
            ct.ThrowIfCancellationRequested();
        }

        progress?.Report(new RebuildProgress("Reading the indexed records", 0, 1));
        var rows = await tx.QueryAsync(
            "SELECT patient_id, master_id, link_kind, quarantined, nhs_status, nhs, person FROM mpi_source WHERE deleted = 0 ORDER BY patient_id",
            r => new Row(r.GetString(0), r.NullableString(1), r.NullableString(2), r.Long(3) != 0, r.GetString(4) == nameof(NhsNumberStatus.Valid) ? r.NullableString(5) : null, r.NullableString(6)),
            ct);
        var position = new Dictionary<string, int>(rows.Count, StringComparer.Ordinal);
        for (var i = 0; i < rows.Count; i++)
        {
            position[rows[i].Id] = i;
        }

        // Records taking part in matching, deserialised in parallel; index positions map back to rows.
        var matchable = Enumerable.Range(0, rows.Count).Where(i => !rows[i].Quarantined && rows[i].Person is not null).ToArray();
        var records = new PersonRecord[matchable.Length];
        Parallel.For(0, matchable.Length, k => records[k] = JsonSerializer.Deserialize<PersonRecord>(rows[matchable[k]].Person!, MasterPatientIndex.RecordJson)!);
        progress?.Report(new RebuildProgress("Reading the indexed records", 1, 1));

        var clusters = new ClusterBuilder(rows.Select(r => r.ValidNhs).ToList());
        foreach (var (a, b) in await tx.QueryAsync("SELECT patient_a, patient_b FROM mpi_exclusion", r => (r.GetString(0), r.GetString(1)), ct))
        {
            if (position.TryGetValue(a, out var pa) && position.TryGetValue(b, out var pb))
            {
                clusters.KeepApart(pa, pb);
            }
        }

        var kept = await tx.QueryAsync("SELECT source_id, target_id FROM mpi_merge WHERE undone = 0 ORDER BY created, id", r => (Source: r.GetString(0), Target: r.GetString(1)), ct);
        foreach (var (source, target) in kept)
        {
            if (position.TryGetValue(source, out var ps) && position.TryGetValue(target, out var pt) && !clusters.TryUnion(ps, pt))
            {
                work.Index.Logger.LogWarning("The merge of Patient/{Source} into the person of Patient/{Target} now conflicts (different valid NHS numbers or a steward's decision); the rebuild keeps them apart", source, target);
            }
        }

        progress?.Report(new RebuildProgress("Preparing and blocking records", 0, 1));
        var index = engine.CreateIndex(records);
        progress?.Report(new RebuildProgress("Comparing candidate pairs", 0, 1));
        var scored = engine.ScoreCandidatePairs(index, out var candidatePairs);
        progress?.Report(new RebuildProgress("Comparing candidate pairs", 1, 1));
        progress?.Report(new RebuildProgress("Clustering people", 0, 1));
        foreach (var pair in scored)
        {
            if (pair.Decision == MatchDecision.AutoLink && !pair.Conflict)
            {
                clusters.TryUnion(matchable[pair.I], matchable[pair.J]);
            }
        }

        // Each person keeps the existing master holding most of its records; larger people choose first.
        var groups = clusters.Groups().OrderByDescending(g => g.Count).ThenBy(g => g[0]).ToList();
        var assigned = new string[rows.Count];
        var claimed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in groups)
        {
            var master = group.Where(p => rows[p].Master is not null)
                .GroupBy(p => rows[p].Master!, StringComparer.Ordinal)
                .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => g.Key)
                .FirstOrDefault(m => !claimed.Contains(m))
                ?? "m" + Guid.NewGuid().ToString("N");
            claimed.Add(master);
            foreach (var p in group)
            {
                assigned[p] = master;
            }
        }

        var sizes = groups.SelectMany(g => g.Select(p => (p, g.Count))).ToDictionary(x => x.p, x => x.Count);
        var moved = new List<int>();
        for (var p = 0; p < rows.Count; p++)
        {
            var row = rows[p];
            var kind = sizes[p] == 1 ? (row.Kind is "auto" or null ? "new" : row.Kind) : row.Master == assigned[p] ? row.Kind : row.Kind is "merge" or "link" ? row.Kind : "auto";
            if (row.Master == assigned[p] && kind == row.Kind)
            {
                continue;
            }

            await tx.ExecuteAsync("UPDATE mpi_source SET master_id = @m, link_kind = @k WHERE patient_id = @id", ct, ("@m", assigned[p]), ("@k", kind), ("@id", row.Id));
            if (row.Master != assigned[p])
            {
                moved.Add(p);
            }
        }

        // Masters that gained or lost records get a new version; one left with none is retired into the person
        // that took most of its records.
        var gained = moved.GroupBy(p => assigned[p], StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var emptied = moved.Where(p => rows[p].Master is not null && !claimed.Contains(rows[p].Master!))
            .GroupBy(p => rows[p].Master!, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.GroupBy(p => assigned[p], StringComparer.Ordinal).OrderByDescending(x => x.Count()).ThenBy(x => x.Key, StringComparer.Ordinal).First().Key, StringComparer.Ordinal);
        var touched = moved.Select(p => assigned[p]).Concat(moved.Select(p => rows[p].Master).OfType<string>()).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        long written = 0, retired = 0;
        foreach (var master in touched)
        {
            ct.ThrowIfCancellationRequested();
            if (emptied.TryGetValue(master, out var replacement))
            {
                await work.RetireMasterAsync(master, replacement, ct);
                retired++;
            }
            else
            {
                await work.WriteMasterAsync(master, ct);
                written++;
            }

            if (gained.TryGetValue(master, out var joined))
            {
                var targets = joined.Select(p => $"Patient/{rows[p].Id}").Prepend($"Patient/{master}").Concat(joined.Select(p => rows[p].Master).OfType<string>().Select(m => $"Patient/{m}"));
                await work.RecordAsync("link", "Link", targets, $"tessera mpi rebuild re-matched the whole index: {joined.Count} record(s) now belong to master Patient/{master}.", null, null, ct);
            }

            progress?.Report(new RebuildProgress("Writing master records", written + retired, touched.Count));
        }

        progress?.Report(new RebuildProgress("Reviews: withdrawing moot, opening new", 0, 1));
        await WithdrawMootReviewsAsync(work, ct);
        var opened = await OpenReviewsAsync(work, rows, matchable, records, index, scored, clusters, assigned, ct);
        var counts = await work.Index.CountAsync(tx, ct);
        work.Index.Logger.LogInformation("Index rebuilt: {Records} records, {Masters} people, {Moved} records moved, {Written} masters written, {Retired} retired, {Opened} review items opened", rows.Count, groups.Count, moved.Count, written, retired, opened);
        return new RebuildSummary(rows.Count, groups.Count, counts.AutomaticLinks, opened, counts.OpenReviews, moved.Count, written, retired, candidatePairs);
    }

    /// <summary>Open reviews whose two records now belong to one person are withdrawn (cancelled) with the reason.</summary>
    private static async Task WithdrawMootReviewsAsync(IndexWork work, CancellationToken ct)
    {
        var tx = work.Transaction;
        var moot = await tx.QueryAsync(
            """
            SELECT r.task_id, p.master_id FROM mpi_review r
            JOIN mpi_source p ON p.patient_id = r.patient_id JOIN mpi_source c ON c.patient_id = r.candidate_id
            WHERE r.status = 'requested' AND p.deleted = 0 AND c.deleted = 0 AND p.master_id = c.master_id
            """,
            r => (Task: r.GetString(0), Master: r.GetString(1)),
            ct);
        foreach (var (taskId, master) in moot)
        {
            var response = await work.ExecuteAsync(new FhirRequest { Method = "GET", Path = $"Task/{taskId}" }, ct);
            if (FhirStore.Materialise(response) is FhirTask task)
            {
                task.Status = FhirTask.TaskStatus.Cancelled;
                task.StatusReason = new CodeableConcept { Text = $"Withdrawn by tessera mpi rebuild: both records now belong to master Patient/{master}." };
                await work.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"Task/{taskId}", Resource = task }, ct);
            }

            await tx.ExecuteAsync("UPDATE mpi_review SET status = 'cancelled' WHERE task_id = @t", ct, ("@t", taskId));
        }
    }

    /// <summary>
    /// Probable matches between different people become review Tasks, one per record and candidate person,
    /// unless that pair was ever sent for review before (whatever the steward decided) or may never be joined.
    /// </summary>
    private static async Task<long> OpenReviewsAsync(
        IndexWork work, List<Row> rows, int[] matchable, PersonRecord[] records, MatchIndex index, List<ScoredPosition> scored, ClusterBuilder clusters, string[] assigned, CancellationToken ct)
    {
        var tx = work.Transaction;
        var engine = work.Index.Engine;
        var seen = new HashSet<(string, string)>();
        var asked = (await tx.QueryAsync("SELECT patient_id, master_id FROM mpi_review", r => (r.GetString(0), r.GetString(1)), ct)).ToHashSet();
        long opened = 0;
        foreach (var pair in scored)
        {
            var (a, b) = (matchable[pair.I], matchable[pair.J]);
            if (pair.Decision == MatchDecision.NoLink || pair.Conflict || assigned[a] == assigned[b] || !clusters.CanUnion(a, b) || !seen.Add((rows[a].Id, assigned[b])))
            {
                continue;
            }

            if (asked.Contains((rows[a].Id, assigned[b])) || asked.Contains((rows[b].Id, assigned[a])))
            {
                continue;
            }

            var explanation = engine.Explain(index.Records[pair.I], index.Records[pair.J], index);
            var candidate = new MatchCandidate(records[pair.J], pair.Weight, engine.Model.MatchProbability(pair.Weight), MatchDecision.Review, explanation);
            await ReviewTasks.OpenAsync(work, rows[a].Id, new MasterCandidate(assigned[b], candidate), ct);
            opened++;
        }

        return opened;
    }
}
