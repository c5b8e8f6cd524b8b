using System.Data;
using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Tessera.RecordStore;

namespace Tessera.Governance.Audit;

/// <summary>One thing wrong with the audit trail: the row position it concerns and what was found.</summary>
public sealed record AuditProblem(long Position, string Message);

/// <summary>
/// The result of checking the chain: rows read (a row holds one event or a batch of reads' events), the head hash to
/// keep elsewhere, any problems, how many events were still waiting to be chained (a running server chains them within
/// moments), and how many events the chained rows hold.
/// </summary>
public sealed record AuditVerification(long Rows, long LastPosition, string? HeadHash, IReadOnlyList<AuditProblem> Problems, long Pending = 0, long Events = 0)
{
    public bool Intact => Problems.Count == 0;
}

/// <summary>
/// Walks the chain in order and recomputes every hash: a changed event (or an event changed, removed or moved
/// inside a batch row, whose hash covers all of its events in order) no longer matches its hash, a deleted event
/// or chain row leaves its position empty and breaks the next row's link, deleted newest rows fall short of the head,
/// an altered patient index (where it is kept in rows of its own) no longer matches the hashed patient list, and an
/// event that is neither chained nor waiting to be was added behind the trail's back.
/// </summary>
internal static class AuditVerifier
{
    /// <summary>Events waiting longer than this to be chained are reported: no chainer is running on the database.</summary>
    private static readonly TimeSpan StalePending = TimeSpan.FromMinutes(10);

    public static async Task<AuditVerification> VerifyAsync(FhirStore store, DateTimeOffset now, CancellationToken ct)
    {
        await using var connection = await store.OpenConnectionAsync(ct);
        // One snapshot for every query: nodes go on appending while the trail is checked, and a head read after the
        // chain (or events read after it) would otherwise be newer than the chain and look like deleted rows.
        // On SQLite, whose shared cache locks tables rather than keeping snapshots, the check takes the write lock
        // instead: appends wait for it (reads do not wait for their events).
        await using DbTransaction snapshot = connection is SqliteConnection sqlite
            ? sqlite.BeginTransaction(IsolationLevel.Serializable, deferred: false)
            : await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
        var problems = new List<AuditProblem>();
        // A patient index kept in rows of its own can be altered apart from the events; one on the events' own
        // (hashed) patient list cannot (see AuditSubjects), so there is nothing to compare.
        var index = AuditSubjects.IndexedInPlace(connection) ? null : await PatientIndexAsync(snapshot, ct);
        long rows = 0, expected = 1, last = 0, events = 0;
        string prevHash = string.Empty;
        await using (var cmd = Command(snapshot))
        {
            cmd.CommandText = "SELECT c.n, c.seq, c.prev_hash, c.hash, e.id, e.recorded, e.patient_keys, e.json, e.events FROM gov_audit_chain c LEFT JOIN gov_audit_event e ON e.seq = c.seq ORDER BY c.n";
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                rows++;
                var n = reader.GetInt64(0);
                var (seq, prev, hash) = (reader.GetInt64(1), reader.GetString(2), reader.GetString(3));
                if (n != expected)
                {
                    problems.Add(new AuditProblem(expected, n - expected == 1
                        ? $"row {expected} is missing: it was deleted"
                        : $"rows {expected} to {n - 1} are missing: they were deleted"));
                }

                if (reader.IsDBNull(4))
                {
                    problems.Add(new AuditProblem(n, $"row {n} is missing: its event (or batch of events) was deleted"));
                }
                else
                {
                    var (id, recorded, patients, json) = (reader.GetString(4), reader.GetInt64(5), reader.GetString(6), reader.GetString(7));
                    var batch = AuditRows.IsBatch(json);
                    var held = batch ? AuditRows.PatientLists(patients).Length : 1;
                    var what = batch ? $"a batch of {held} events, AuditEvent/{AuditRows.EventId(id, 0)} to {AuditRows.EventId(id, held - 1)}" : $"AuditEvent/{id}";
                    events += held;
                    if (prev != prevHash)
                    {
                        problems.Add(new AuditProblem(n, $"row {n} ({what}) does not link to the row before it: that row was changed or deleted"));
                    }

                    if (AuditTrail.Hash(n, id, recorded, patients, json, prev) != hash)
                    {
                        problems.Add(new AuditProblem(n, $"row {n} ({what}) was changed: its content no longer matches its hash"));
                    }
                    else if ((reader.IsDBNull(8) ? (int?)null : reader.GetInt32(8)) != (batch ? held : null))
                    {
                        // The count beside a row's events (what searches total) is not hashed; it must agree with them.
                        problems.Add(new AuditProblem(n, $"row {n} ({what}): its count of events (gov_audit_event.events) was altered"));
                    }

                    var indexed = index is null ? null : index.TryGetValue(seq, out var keys) ? string.Join(' ', keys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)) : string.Empty;
                    if (indexed is not null && indexed != string.Join(' ', AuditRows.PatientsOf(patients, batch).Order(StringComparer.Ordinal)))
                    {
                        problems.Add(new AuditProblem(n, $"row {n} ({what}): the patient index (gov_audit_subject) was altered"));
                    }
                }

                index?.Remove(seq);
                prevHash = hash;
                last = n;
                expected = n + 1;
            }
        }

        string? headHash = null;
        await using (var cmd = Command(snapshot))
        {
            cmd.CommandText = "SELECT n, hash FROM gov_audit_head WHERE one = 1";
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
            {
                var headN = reader.GetInt64(0);
                headHash = reader.GetString(1);
                if (headN > last)
                {
                    problems.Add(new AuditProblem(last + 1, headN - last == 1 ? $"row {headN}, the newest, is missing: it was deleted" : $"rows {last + 1} to {headN}, the newest, are missing: they were deleted"));
                }
                else if (headN < last || headHash != prevHash)
                {
                    problems.Add(new AuditProblem(last, $"the chain head (row {headN.ToString(CultureInfo.InvariantCulture)}) does not match the newest row {last}: the trail or its head was changed"));
                }
            }
            else if (rows > 0)
            {
                problems.Add(new AuditProblem(0, "the chain head (gov_audit_head) was deleted"));
            }
        }

        // Events not yet chained: fine while recent; a stray (neither chained nor queued) was inserted behind the trail's back.
        long pending = 0;
        await using (var cmd = Command(snapshot))
        {
            cmd.CommandText = """
                SELECT e.seq, e.id, e.recorded, CASE WHEN p.seq IS NULL THEN 0 ELSE 1 END FROM gov_audit_event e LEFT JOIN gov_audit_pending p ON p.seq = e.seq
                WHERE NOT EXISTS (SELECT 1 FROM gov_audit_chain c WHERE c.seq = e.seq) ORDER BY e.seq
                """;
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var (seq, id, recorded) = (reader.GetInt64(0), reader.GetString(1), DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(2)));
                index?.Remove(seq);
                if (reader.GetInt32(3) == 0)
                {
                    problems.Add(new AuditProblem(0, $"AuditEvent/{id} is not in the chain and was never queued for it: it was added outside the audit trail"));
                }
                else if (now - recorded > StalePending)
                {
                    problems.Add(new AuditProblem(0, $"AuditEvent/{id} has waited since {recorded:u} to be chained: start a Tessera server on this database, which chains it"));
                }
                else
                {
                    pending++;
                }
            }
        }

        await using (var cmd = Command(snapshot))
        {
            cmd.CommandText = "SELECT p.seq FROM gov_audit_pending p WHERE NOT EXISTS (SELECT 1 FROM gov_audit_event e WHERE e.seq = p.seq)";
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                problems.Add(new AuditProblem(0, $"an event queued to be chained (#{reader.GetInt64(0)}) was deleted before it was chained"));
            }
        }

        foreach (var orphan in index?.Keys.Order() ?? Enumerable.Empty<long>())
        {
            problems.Add(new AuditProblem(0, $"the patient index names event #{orphan}, which is not in the trail: it was deleted"));
        }

        return new AuditVerification(rows, last, headHash, problems, pending, events);
    }

    private static DbCommand Command(DbTransaction snapshot)
    {
        var cmd = snapshot.Connection!.CreateCommand();
        cmd.Transaction = snapshot;
        return cmd;
    }

    private static async Task<Dictionary<long, List<string>>> PatientIndexAsync(DbTransaction snapshot, CancellationToken ct)
    {
        var index = new Dictionary<long, List<string>>();
        await using var cmd = Command(snapshot);
        cmd.CommandText = "SELECT seq, patient_key FROM gov_audit_subject";
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var n = reader.GetInt64(0);
            if (!index.TryGetValue(n, out var list))
            {
                index[n] = list = [];
            }

            list.Add(reader.GetString(1));
        }

        return index;
    }
}
