using System.Data.Common;
using System.Globalization;
using Tessera.RecordStore;

namespace Tessera.Governance.Audit;

/// <summary>One thing wrong with the audit trail: the row position it concerns and what was found.</summary>
public sealed record AuditProblem(long Position, string Message);

/// <summary>The result of checking the chain: rows read, the head hash to keep elsewhere, and any problems.</summary>
public sealed record AuditVerification(long Rows, long LastPosition, string? HeadHash, IReadOnlyList<AuditProblem> Problems)
{
    public bool Intact => Problems.Count == 0;
}

/// <summary>
/// Walks the chain in order and recomputes every hash: a changed row no longer matches its hash, a deleted row
/// leaves a gap in the positions and breaks the next row's link, deleted newest rows fall short of the head,
/// and an altered patient index no longer matches the hashed patient list.
/// </summary>
internal static class AuditVerifier
{
    public static async Task<AuditVerification> VerifyAsync(FhirStore store, CancellationToken ct)
    {
        await using var connection = await store.OpenConnectionAsync(ct);
        var problems = new List<AuditProblem>();
        var index = await PatientIndexAsync(connection, ct);
        long rows = 0, expected = 1, last = 0;
        string prevHash = string.Empty;
        await using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "SELECT n, id, recorded, patient_keys, json, prev_hash, hash FROM gov_audit ORDER BY n";
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                rows++;
                var n = reader.GetInt64(0);
                var (id, recorded, patients, json, prev, hash) = (reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4), reader.GetString(5), reader.GetString(6));
                if (n != expected)
                {
                    problems.Add(new AuditProblem(expected, n - expected == 1
                        ? $"row {expected} is missing: it was deleted"
                        : $"rows {expected} to {n - 1} are missing: they were deleted"));
                }

                if (prev != prevHash)
                {
                    problems.Add(new AuditProblem(n, $"row {n} (AuditEvent/{id}) does not link to the row before it: that row was changed or deleted"));
                }

                if (AuditTrail.Hash(n, id, recorded, patients, json, prev) != hash)
                {
                    problems.Add(new AuditProblem(n, $"row {n} (AuditEvent/{id}) was changed: its content no longer matches its hash"));
                }

                var indexed = index.TryGetValue(n, out var keys) ? string.Join(' ', keys.Order(StringComparer.Ordinal)) : string.Empty;
                if (indexed != string.Join(' ', patients.Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal)))
                {
                    problems.Add(new AuditProblem(n, $"row {n} (AuditEvent/{id}): the patient index (gov_audit_patient) was altered"));
                }

                index.Remove(n);
                prevHash = hash;
                last = n;
                expected = n + 1;
            }
        }

        foreach (var orphan in index.Keys.Order())
        {
            problems.Add(new AuditProblem(orphan, $"the patient index names row {orphan}, which is not in the trail: it was deleted"));
        }

        string? headHash = null;
        await using (var cmd = connection.CreateCommand())
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

        return new AuditVerification(rows, last, headHash, problems);
    }

    private static async Task<Dictionary<long, List<string>>> PatientIndexAsync(DbConnection connection, CancellationToken ct)
    {
        var index = new Dictionary<long, List<string>>();
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT n, patient_key FROM gov_audit_patient";
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
