using System.Text.Json;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Index;

/// <summary>What a merge, link or unmerge did: the master the source record now belongs to and the Provenance recording it.</summary>
internal sealed record MergeOutcome(string MasterId, string ProvenanceId, string Message);

/// <summary>
/// Merges (A40, <c>Patient/$merge</c>) and steward links join two people's masters; unmerge reverses the latest
/// of them exactly. Each is written to mpi_merge with what it moved, and recorded as a Provenance.
/// </summary>
internal static class Merges
{
    /// <summary>
    /// Makes the source record's person the target record's person: every record of the source's master moves to
    /// the target's master, and the old master is retired (replaced-by). A merge also retires the source record
    /// itself (its link on the master becomes replaced-by). Returns why it was refused, or null when done.
    /// </summary>
    public static async Task<string?> LinkAsync(IndexWork work, string sourceId, string targetId, string kind, bool retireSource, Provenance.AgentComponent? who, ResourceReference? entity, string reason, CancellationToken ct)
    {
        var source = await work.SourceAsync(sourceId, ct);
        var target = await work.SourceAsync(targetId, ct);
        if (source is not { Deleted: false, MasterId: not null } || target is not { Deleted: false, MasterId: not null })
        {
            return $"Patient/{(source is { Deleted: false, MasterId: not null } ? targetId : sourceId)} is not an indexed source record.";
        }

        if (retireSource && source.Retired)
        {
            return $"Patient/{sourceId} has already been merged; unmerge it first.";
        }

        var (ms, mt) = (source.MasterId, target.MasterId);
        var movers = ms == mt ? [] : await work.MembersAsync(ms, ct);
        var stayers = await work.MembersAsync(mt, ct);
        var numbers = movers.Concat(stayers).Where(m => m.NhsStatus == NhsNumberStatus.Valid).Select(m => m.Nhs).Distinct().ToList();
        if (numbers.Count > 1)
        {
            return $"Patient/{sourceId} and Patient/{targetId} belong to people with different valid NHS numbers ({string.Join(", ", numbers)}). Records with different NHS numbers are never joined here: resolve the number through the Personal Demographics Service, correct the source record, then merge.";
        }

        var tx = work.Transaction;
        foreach (var a in movers.Append(source))
        {
            foreach (var b in stayers)
            {
                await tx.ExecuteAsync("DELETE FROM mpi_exclusion WHERE (patient_a = @a AND patient_b = @b) OR (patient_a = @b AND patient_b = @a)", ct, ("@a", a.Id), ("@b", b.Id));
            }
        }

        if (ms != mt)
        {
            await tx.ExecuteAsync("UPDATE mpi_source SET master_id = @mt WHERE master_id = @ms", ct, ("@mt", mt), ("@ms", ms));
            await work.RetireMasterAsync(ms, mt, ct);
        }

        await tx.ExecuteAsync("UPDATE mpi_source SET link_kind = @k, retired = @r WHERE patient_id = @id", ct, ("@k", kind), ("@r", retireSource ? 1L : 0L), ("@id", sourceId));
        await work.WriteMasterAsync(mt, ct);
        var provenance = await work.RecordAsync(kind, kind == "merge" ? "Merge" : "Link", [$"Patient/{mt}", $"Patient/{sourceId}", $"Patient/{targetId}", $"Patient/{ms}"], reason, who, entity, ct);
        await tx.ExecuteAsync(
            "INSERT INTO mpi_merge (id, kind, source_id, target_id, source_master, target_master, moved, provenance_id, undone, created) VALUES (@id, @kind, @s, @t, @ms, @mt, @moved, @p, 0, @now)",
            ct, ("@id", Guid.NewGuid().ToString("N")), ("@kind", kind), ("@s", sourceId), ("@t", targetId), ("@ms", ms), ("@mt", mt),
            ("@moved", JsonSerializer.Serialize(movers.Select(m => m.Id).ToList())), ("@p", provenance), ("@now", work.Now));
        work.Index.Logger.LogInformation("{Kind} of Patient/{Source} into the person of Patient/{Target}: master Patient/{Master} (Provenance/{Provenance})", kind, sourceId, targetId, mt, provenance);
        return null;
    }

    /// <summary>
    /// Reverses the latest merge or link of the source record exactly (the records it moved go back to their
    /// master, the source is no longer retired); a record linked automatically is separated into a person of
    /// its own. Either way the steward's decision is kept as exclusions, so automatic matching does not undo it.
    /// </summary>
    public static async Task<MergeOutcome> UnmergeAsync(IndexWork work, string sourceId, Provenance.AgentComponent? who, string reason, CancellationToken ct)
    {
        var tx = work.Transaction;
        var source = await work.SourceAsync(sourceId, ct);
        if (source is not { Deleted: false, MasterId: not null })
        {
            throw FhirException.NotFound($"Patient/{sourceId} is not an indexed source record.");
        }

        var current = source.MasterId;
        var last = await tx.QueryAsync(
            "SELECT id, kind, source_master, moved FROM mpi_merge WHERE source_id = @s AND undone = 0 ORDER BY created DESC, id DESC LIMIT 1",
            r => (Id: r.GetString(0), Kind: r.GetString(1), SourceMaster: r.GetString(2), Moved: JsonSerializer.Deserialize<List<string>>(r.GetString(3))!),
            ct, ("@s", sourceId));
        if (last.Count > 0)
        {
            var merge = last[0];
            var back = merge.Moved.Count == 0 ? [sourceId] : merge.Moved;
            var restored = merge.Moved.Count == 0 ? current : merge.SourceMaster;
            if (restored != current)
            {
                foreach (var id in back)
                {
                    await tx.ExecuteAsync("UPDATE mpi_source SET master_id = @m WHERE patient_id = @id AND master_id = @current", ct, ("@m", restored), ("@id", id), ("@current", current));
                }

                foreach (var stayer in await work.MembersAsync(current, ct))
                {
                    foreach (var id in back)
                    {
                        await ExcludeAsync(tx, id, stayer.Id, null, ct);
                    }
                }
            }

            await tx.ExecuteAsync("UPDATE mpi_source SET retired = 0, link_kind = 'steward' WHERE patient_id = @id", ct, ("@id", sourceId));
            await tx.ExecuteAsync("UPDATE mpi_merge SET undone = 1 WHERE id = @id", ct, ("@id", merge.Id));
            await work.WriteMasterAsync(restored, ct);
            if (restored != current)
            {
                await work.WriteMasterAsync(current, ct);
            }

            var provenance = await work.RecordAsync(merge.Kind == "merge" ? "unmerge" : "unlink", merge.Kind == "merge" ? "Unmerge" : "Unlink", [$"Patient/{restored}", $"Patient/{sourceId}", $"Patient/{current}"], reason, who, null, ct);
            return new MergeOutcome(restored, provenance, $"The {merge.Kind} of Patient/{sourceId} was reversed; it belongs to master Patient/{restored}.");
        }

        var others = (await work.MembersAsync(current, ct)).Where(m => m.Id != sourceId).ToList();
        if (others.Count == 0)
        {
            throw FhirException.Unprocessable($"Patient/{sourceId} is not merged or linked with any other record (master Patient/{current} has no other); there is nothing to unmerge.");
        }

        foreach (var other in others)
        {
            await ExcludeAsync(tx, sourceId, other.Id, null, ct);
        }

        var own = await work.NewMasterAsync(sourceId, ct);
        await tx.ExecuteAsync("UPDATE mpi_source SET link_kind = 'steward' WHERE patient_id = @id", ct, ("@id", sourceId));
        await work.WriteMasterAsync(current, ct);
        var unlinked = await work.RecordAsync("unlink", "Unlink", [$"Patient/{own}", $"Patient/{sourceId}", $"Patient/{current}"], reason, who, null, ct);
        return new MergeOutcome(own, unlinked, $"Patient/{sourceId} was separated from master Patient/{current} into master Patient/{own}.");
    }

    /// <summary>Records that two source records are different people (both ways), so matching never links them.</summary>
    public static async Task ExcludeAsync(StoreTransaction tx, string a, string b, string? taskId, CancellationToken ct)
    {
        foreach (var (x, y) in new[] { (a, b), (b, a) })
        {
            await tx.ExecuteAsync("INSERT INTO mpi_exclusion (patient_a, patient_b, task_id) VALUES (@a, @b, @t) ON CONFLICT (patient_a, patient_b) DO NOTHING", ct, ("@a", x), ("@b", y), ("@t", taskId));
        }
    }
}
