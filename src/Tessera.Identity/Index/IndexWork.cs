using System.Globalization;
using System.Text.Json;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;
using Tessera.Identity.Matching;
using Tessera.Identity.Review;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Index;

/// <summary>One source record's place in the index, as mpi_source holds it.</summary>
internal sealed record SourceRow(string Id, long Version, string? MasterId, string? LinkKind, bool Retired, string? Nhs, NhsNumberStatus NhsStatus, bool Quarantined, bool Deleted);

/// <summary>A master that a record may belong to, with the best-scoring record of that master.</summary>
internal sealed record MasterCandidate(string MasterId, MatchCandidate Best);

/// <summary>
/// The index's work inside one write transaction holding the feed cursor's lock: following the version log,
/// linking records to masters, and writing master Patients, review Tasks and Provenance in the same transaction.
/// </summary>
/// <remarks>
/// The live index is loaded (and refreshed from other nodes' work) only when the work first needs it, so work
/// that matches nothing — a rebuild whose feed is already caught up, a round with nothing new — never builds it.
/// </remarks>
internal sealed class IndexWork(MasterPatientIndex mpi, StoreTransaction tx, Func<Task<LiveIndex>> loadLive, IndexWork.FeedState feed)
{
    private LiveIndex? live;

    public const string ActivitySystem = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle";

    private const string SourceColumns = "patient_id, version, master_id, link_kind, retired, nhs, nhs_status, quarantined, deleted";

    public sealed class FeedState
    {
        public long Seq { get; set; }

        public long Generation { get; set; }
    }

    public long Generation => feed.Generation;

    /// <summary>Takes the next generation number for a source row written by this work.</summary>
    public long NextGeneration() => ++feed.Generation;

    public StoreTransaction Transaction => tx;

    public MasterPatientIndex Index => mpi;

    /// <summary>The live blocking index, current as of this transaction.</summary>
    public async Task<LiveIndex> LiveAsync() => live ??= await loadLive();

    public long Now => mpi.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    public static async Task<FeedState?> LockFeedAsync(StoreTransaction tx, bool skipLocked, CancellationToken ct)
    {
        var suffix = tx.Kind == DatabaseKind.Postgres ? (skipLocked ? " FOR UPDATE SKIP LOCKED" : " FOR UPDATE") : string.Empty;
        var rows = await tx.QueryAsync("SELECT seq, generation FROM mpi_feed WHERE name = 'patients'" + suffix, r => new FeedState { Seq = r.Long(0), Generation = r.Long(1) }, ct);
        return rows.Count == 0 ? null : rows[0];
    }

    public Task SaveFeedAsync(CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE mpi_feed SET seq = @seq, generation = @g WHERE name = 'patients'", ct, ("@seq", feed.Seq), ("@g", feed.Generation));

    // ---- Following the version log ----

    private sealed record VersionRow(long Seq, string Type, string Id, long Version, bool Deleted, string? Json);

    private const string VersionColumns = "seq, resource_type, id, version, deleted, CASE WHEN resource_type IN ('Patient', 'Task') THEN json END";

    private static VersionRow ReadVersion(System.Data.Common.DbDataReader r) =>
        new(r.Long(0), r.GetString(1), r.GetString(2), r.Long(3), r.Long(4) != 0, r.NullableString(5));

    /// <summary>Applies the next batch of the version log; returns how many versions it read.</summary>
    public async Task<int> FollowFeedAsync(long horizon, CancellationToken ct)
    {
        var late = tx.Kind == DatabaseKind.Postgres ? await ResolveGapsAsync(horizon, ct) : 0;
        var rows = await tx.QueryAsync($"SELECT {VersionColumns} FROM resource_version WHERE seq > @seq ORDER BY seq LIMIT {mpi.Options.BatchSize}", ReadVersion, ct, ("@seq", feed.Seq));
        if (tx.Kind == DatabaseKind.Postgres)
        {
            await RecordGapsAsync(rows, ct);
        }

        foreach (var row in rows)
        {
            await ApplyAsync(row, ct);
        }

        if (rows.Count > 0)
        {
            feed.Seq = rows[^1].Seq;
        }

        return rows.Count + late;
    }

    /// <summary>
    /// On PostgreSQL a transaction that took a lower seq can commit after one that took a higher seq, so a
    /// number missing below the cursor may still appear. Each missing number is remembered with the snapshot's
    /// xmax at the time; it is applied if it appears, and forgotten once every transaction that was running
    /// then has ended (and the grace period has passed) without it appearing: that write was rolled back.
    /// </summary>
    private async Task RecordGapsAsync(List<VersionRow> rows, CancellationToken ct)
    {
        var expected = feed.Seq + 1;
        var missing = new List<long>();
        foreach (var row in rows)
        {
            for (var s = expected; s < row.Seq && missing.Count < 10_000; s++)
            {
                missing.Add(s);
            }

            expected = row.Seq + 1;
        }

        if (missing.Count == 0)
        {
            return;
        }

        var xmax = Convert.ToInt64(await tx.ScalarAsync("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint", ct), CultureInfo.InvariantCulture);
        foreach (var seq in missing)
        {
            await tx.ExecuteAsync("INSERT INTO mpi_gap (seq, horizon, seen_at) VALUES (@seq, @xmax, @now) ON CONFLICT (seq) DO NOTHING", ct, ("@seq", seq), ("@xmax", xmax), ("@now", Now));
        }
    }

    private async Task<int> ResolveGapsAsync(long horizon, CancellationToken ct)
    {
        var gaps = await tx.QueryAsync("SELECT seq, horizon, seen_at FROM mpi_gap ORDER BY seq LIMIT 1000", r => (Seq: r.Long(0), Xmax: r.Long(1), SeenAt: r.Long(2)), ct);
        if (gaps.Count == 0)
        {
            return 0;
        }

        var (inList, parameters) = SqlRows.InList(gaps.Select(g => g.Seq.ToString(CultureInfo.InvariantCulture)).ToList());
        var arrived = await tx.QueryAsync($"SELECT {VersionColumns} FROM resource_version WHERE seq IN ({inList}) ORDER BY seq", ReadVersion, ct, parameters.Select(p => (p.Item1, (object?)long.Parse((string)p.Item2!, CultureInfo.InvariantCulture))).ToArray());
        foreach (var row in arrived)
        {
            mpi.Logger.LogInformation("Version log entry {Seq} ({Type}/{Id}) committed after later entries; matched now", row.Seq, row.Type, row.Id);
            await ApplyAsync(row, ct);
            await tx.ExecuteAsync("DELETE FROM mpi_gap WHERE seq = @seq", ct, ("@seq", row.Seq));
        }

        var arrivedSeqs = arrived.Select(a => a.Seq).ToHashSet();
        var grace = (long)mpi.Options.GapGrace.TotalMilliseconds;
        foreach (var gap in gaps.Where(g => !arrivedSeqs.Contains(g.Seq) && horizon >= g.Xmax && Now - g.SeenAt >= grace))
        {
            mpi.Logger.LogDebug("Version log entry {Seq} never committed (rolled back); no longer waiting for it", gap.Seq);
            await tx.ExecuteAsync("DELETE FROM mpi_gap WHERE seq = @seq", ct, ("@seq", gap.Seq));
        }

        return arrived.Count;
    }

    private async Task ApplyAsync(VersionRow row, CancellationToken ct)
    {
        if (row.Type == "Patient")
        {
            if (row.Deleted || row.Json is null)
            {
                await SourceDeletedAsync(row.Id, row.Version, ct);
                return;
            }

            // The index's own masters are written through the store too; they are not source records.
            if (row.Json.Contains(PatientDemographics.TagSystem, StringComparison.Ordinal) && FhirSerialization.ParseStored(row.Json) is Patient own && PatientDemographics.IsMaster(own))
            {
                return;
            }

            await SourceWrittenAsync((Patient)FhirSerialization.ParseStored(row.Json), row.Version, ct);
        }
        else if (row.Type == "Task" && !row.Deleted && row.Json is not null && row.Json.Contains(ReviewTasks.CodeValue, StringComparison.Ordinal))
        {
            var task = (Hl7.Fhir.Model.Task)FhirSerialization.ParseStored(row.Json);
            await ReviewTasks.ApplyDecisionAsync(this, task, ct);
        }
    }

    // ---- Source records ----

    /// <summary>Indexes a written source Patient and links it: to the master it matches, else to a new master of its own.</summary>
    public async Task<SourceRow?> SourceWrittenAsync(Patient patient, long version, CancellationToken ct)
    {
        var id = patient.Id ?? throw new InvalidOperationException("A stored Patient has no id.");
        var existing = await SourceAsync(id, ct);
        if (existing is not null && existing.Version >= version && !existing.Deleted)
        {
            return existing;
        }

        var source = PatientDemographics.SourceOf(patient);
        var (nhs, status) = PatientDemographics.NhsNumberOf(patient);
        var quarantined = status == NhsNumberStatus.Invalid && mpi.Options.PolicyFor(source) == InvalidNhsNumberPolicy.Quarantine;
        if (status == NhsNumberStatus.Invalid)
        {
            mpi.Logger.LogWarning("Patient/{Id} from {Source} has an invalid NHS number; it is never used to link ({Policy})", id, source, quarantined ? "record quarantined" : "record flagged");
        }

        var record = PatientDemographics.ToPersonRecord(patient);
        feed.Generation++;
        await tx.ExecuteAsync(
            """
            INSERT INTO mpi_source (patient_id, version, generation, source, nhs, nhs_status, person, quarantined, deleted)
            VALUES (@id, @v, @g, @source, @nhs, @status, @person, @q, 0)
            ON CONFLICT (patient_id) DO UPDATE SET version = excluded.version, generation = excluded.generation, source = excluded.source,
                nhs = excluded.nhs, nhs_status = excluded.nhs_status, person = excluded.person, quarantined = excluded.quarantined, deleted = 0
            """,
            ct,
            ("@id", id), ("@v", version), ("@g", feed.Generation), ("@source", source), ("@nhs", nhs), ("@status", status.ToString()),
            ("@person", JsonSerializer.Serialize(record, MasterPatientIndex.RecordJson)), ("@q", quarantined ? 1L : 0L));
        var index = await LiveAsync();
        if (quarantined)
        {
            index.Remove(id);
        }
        else
        {
            index.Upsert(record, version);
        }

        var master = existing is { Deleted: false } ? existing.MasterId : null;
        if (master is not null)
        {
            var others = (await MembersAsync(master, ct)).Where(m => m.Id != id).ToList();
            var conflict = status == NhsNumberStatus.Valid && others.Any(o => o.NhsStatus == NhsNumberStatus.Valid && o.Nhs != nhs);
            if (conflict || (quarantined && others.Count > 0))
            {
                mpi.Logger.LogWarning("Patient/{Id} no longer fits master Patient/{Master} ({Why}); it becomes a person of its own", id, master, conflict ? "its NHS number differs from a linked record's" : "its NHS number is invalid and its source is quarantined");
                await SetMasterAsync(id, null, null, null, ct);
                await WriteMasterAsync(master, ct);
                master = null;
            }
            else if (others.Count > 0 || quarantined)
            {
                return await SourceAsync(id, ct);
            }
        }

        if (quarantined)
        {
            await NewMasterAsync(id, ct);
            return await SourceAsync(id, ct);
        }

        var found = await CandidateMastersAsync(id, record, status == NhsNumberStatus.Valid ? nhs : null, master, ct);
        var best = found.FirstOrDefault(f => f.Best.Decision == MatchDecision.AutoLink);
        if (best is not null)
        {
            await SetMasterAsync(id, best.MasterId, "auto", best.Best.Score, ct);
            await WriteMasterAsync(best.MasterId, ct);
            if (master is not null)
            {
                await RetireMasterAsync(master, best.MasterId, ct);
            }
        }
        else if (master is null)
        {
            await NewMasterAsync(id, ct);
        }

        foreach (var other in found.Where(f => f != best))
        {
            await ReviewTasks.OpenAsync(this, id, other, ct);
        }

        return await SourceAsync(id, ct);
    }

    private async Task SourceDeletedAsync(string id, long version, CancellationToken ct)
    {
        var existing = await SourceAsync(id, ct);
        if (existing is null || existing.Deleted)
        {
            return;
        }

        feed.Generation++;
        await tx.ExecuteAsync(
            "UPDATE mpi_source SET deleted = 1, version = @v, generation = @g, master_id = NULL, link_kind = NULL, retired = 0 WHERE patient_id = @id",
            ct, ("@id", id), ("@v", version), ("@g", feed.Generation));
        (await LiveAsync()).Remove(id);
        if (existing.MasterId is { } master)
        {
            await WriteMasterAsync(master, ct);
        }
    }

    /// <summary>The masters the live index finds for a record, best first, without those it may never join.</summary>
    public async Task<List<MasterCandidate>> CandidateMastersAsync(string? id, PersonRecord record, string? validNhs, string? excludeMaster, CancellationToken ct)
    {
        var candidates = (await LiveAsync()).Match(record, 20);
        if (candidates.Count == 0)
        {
            return [];
        }

        var (inList, parameters) = SqlRows.InList(candidates.Select(c => c.Record.RecordId).Distinct().ToList());
        var masters = (await tx.QueryAsync(
            $"SELECT patient_id, master_id FROM mpi_source WHERE deleted = 0 AND quarantined = 0 AND master_id IS NOT NULL AND patient_id IN ({inList})",
            r => (Id: r.GetString(0), Master: r.GetString(1)), ct, parameters)).ToDictionary(r => r.Id, r => r.Master, StringComparer.Ordinal);

        var result = new List<MasterCandidate>();
        foreach (var candidate in candidates)
        {
            if (!masters.TryGetValue(candidate.Record.RecordId, out var master) || master == excludeMaster || result.Any(r => r.MasterId == master))
            {
                continue;
            }

            if (validNhs is not null && Convert.ToInt64(await tx.ScalarAsync("SELECT COUNT(*) FROM mpi_source WHERE master_id = @m AND deleted = 0 AND nhs_status = 'Valid' AND nhs <> @nhs", ct, ("@m", master), ("@nhs", validNhs)), CultureInfo.InvariantCulture) > 0)
            {
                continue; // two different valid NHS numbers: never the same person for the index
            }

            if (id is not null && Convert.ToInt64(await tx.ScalarAsync("SELECT COUNT(*) FROM mpi_exclusion e JOIN mpi_source s ON s.patient_id = e.patient_b WHERE e.patient_a = @p AND s.master_id = @m", ct, ("@p", id), ("@m", master)), CultureInfo.InvariantCulture) > 0)
            {
                continue; // a data steward decided these are different people
            }

            result.Add(new MasterCandidate(master, candidate));
        }

        return result;
    }

    // ---- Masters ----

    public async Task<SourceRow?> SourceAsync(string id, CancellationToken ct)
    {
        var rows = await tx.QueryAsync($"SELECT {SourceColumns} FROM mpi_source WHERE patient_id = @id", ReadSource, ct, ("@id", id));
        return rows.Count == 0 ? null : rows[0];
    }

    public Task<List<SourceRow>> MembersAsync(string master, CancellationToken ct) =>
        tx.QueryAsync($"SELECT {SourceColumns} FROM mpi_source WHERE master_id = @m AND deleted = 0 ORDER BY patient_id", ReadSource, ct, ("@m", master));

    public Task SetMasterAsync(string id, string? master, string? kind, double? score, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE mpi_source SET master_id = @m, link_kind = @k, score = @s WHERE patient_id = @id", ct, ("@id", id), ("@m", master), ("@k", kind), ("@s", score));

    public async Task<string> NewMasterAsync(string sourceId, CancellationToken ct)
    {
        var master = "m" + Guid.NewGuid().ToString("N");
        await SetMasterAsync(sourceId, master, "new", null, ct);
        await WriteMasterAsync(master, ct);
        return master;
    }

    /// <summary>Writes a master Patient from its members: one link per source record; a master left with none is deleted.</summary>
    public async Task WriteMasterAsync(string master, CancellationToken ct)
    {
        var members = await MembersAsync(master, ct);
        if (members.Count == 0)
        {
            await ExecuteAsync(new FhirRequest { Method = "DELETE", Path = $"Patient/{master}" }, ct);
            return;
        }

        var patient = MasterShell(master, true);
        foreach (var member in members)
        {
            patient.Link.Add(new Patient.LinkComponent { Other = new ResourceReference($"Patient/{member.Id}"), Type = member.Retired ? Patient.LinkType.ReplacedBy : Patient.LinkType.Seealso });
        }

        await ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"Patient/{master}", Resource = patient }, ct);
    }

    /// <summary>Retires a master whose person is now another master's: inactive, replaced-by that master.</summary>
    public async Task RetireMasterAsync(string master, string replacement, CancellationToken ct)
    {
        var patient = MasterShell(master, false);
        patient.Link.Add(new Patient.LinkComponent { Other = new ResourceReference($"Patient/{replacement}"), Type = Patient.LinkType.ReplacedBy });
        await ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"Patient/{master}", Resource = patient }, ct);
    }

    /// <summary>
    /// Records a link, merge or decision as a Provenance resource in the same transaction, naming who made it
    /// (<paramref name="agent"/>; null: the index itself) and what it rests on; returns its id.
    /// </summary>
    public async Task<string> RecordAsync(string activity, string display, IEnumerable<string> targets, string reason, Provenance.AgentComponent? agent, ResourceReference? entity, CancellationToken ct)
    {
        var provenance = new Provenance
        {
            Target = targets.Distinct(StringComparer.Ordinal).Select(t => new ResourceReference(t)).ToList(),
            Recorded = mpi.Clock.GetUtcNow(),
            Activity = new CodeableConcept(ActivitySystem, activity, display),
            Reason = [new CodeableConcept { Text = reason }],
            Agent = [agent ?? IndexAgents.System()],
        };
        if (entity is not null)
        {
            provenance.Entity.Add(new Provenance.EntityComponent { Role = Provenance.ProvenanceEntityRole.Source, What = entity });
        }

        var response = await ExecuteAsync(new FhirRequest { Method = "POST", Path = "Provenance", Resource = provenance }, ct);
        return response.Id!;
    }

    public async Task<FhirResponse> ExecuteAsync(FhirRequest request, CancellationToken ct)
    {
        var response = await mpi.Store.ExecuteAsync(request, tx, ct);
        if (response.Status >= 300)
        {
            var why = response.Outcome is null ? string.Empty : string.Join("; ", response.Outcome.Issue.Select(i => i.Diagnostics));
            throw new InvalidOperationException($"The index could not {request.Method} {request.Path}: {response.Status} {why}");
        }

        return response;
    }

    private static Patient MasterShell(string id, bool active) => new()
    {
        Id = id,
        Meta = new Meta { Tag = [new Coding(PatientDemographics.TagSystem, PatientDemographics.MasterCode, "Master patient record")] },
        Active = active,
    };

    private static SourceRow ReadSource(System.Data.Common.DbDataReader r) =>
        new(r.GetString(0), r.Long(1), r.NullableString(2), r.NullableString(3), r.Long(4) != 0, r.NullableString(5), Enum.Parse<NhsNumberStatus>(r.GetString(6)), r.Long(7) != 0, r.Long(8) != 0);
}
