using System.Data.Common;
using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Search.Reindex;

/// <summary>A reindex job as stored: its scope, where it got to, what it counted, and whether a worker is alive on it.</summary>
public sealed record ReindexJob(
    string Id,
    string Scope,
    string Status,
    string? CursorType,
    string? CursorId,
    long Total,
    long Done,
    long Failed,
    string? LastError,
    string? Owner,
    DateTimeOffset? Heartbeat,
    DateTimeOffset Created,
    DateTimeOffset? Finished)
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Completed = "completed";

    /// <summary>Every resource type (a system-level $reindex).</summary>
    public const string AllTypes = "*";
}

/// <summary>
/// The reindex jobs of the <c>search</c> part (tables <c>search_reindex_job</c> and <c>search_reindex_failure</c>):
/// queued by <c>$reindex</c>, claimed by a <see cref="ReindexWorker"/>, read by <c>$reindex-status</c>.
/// </summary>
internal static class ReindexJobs
{
    public static readonly IReadOnlyList<PartMigration> Migrations = [new(Tables("TEXT", "INTEGER"), Tables("text", "bigint"))];

    private static string Tables(string text, string big) => $"""
        CREATE TABLE search_reindex_job (id {text} PRIMARY KEY, scope {text} NOT NULL, status {text} NOT NULL, cursor_type {text}, cursor_id {text},
            total {big} NOT NULL, done {big} NOT NULL DEFAULT 0, failed {big} NOT NULL DEFAULT 0, last_error {text}, owner {text},
            heartbeat {big}, created {big} NOT NULL, finished {big});
        CREATE INDEX ix_search_reindex_job_status ON search_reindex_job (status, created);
        CREATE TABLE search_reindex_failure (job_id {text} NOT NULL, resource_type {text} NOT NULL, id {text} NOT NULL, reason {text} NOT NULL, at {big} NOT NULL);
        CREATE INDEX ix_search_reindex_failure_job ON search_reindex_failure (job_id);
        """;

    private const string Columns = "id, scope, status, cursor_type, cursor_id, total, done, failed, last_error, owner, heartbeat, created, finished";

    /// <summary>Queues a job over one resource type, or every type (<see cref="ReindexJob.AllTypes"/>).</summary>
    public static async Task<ReindexJob> QueueAsync(StoreTransaction tx, string scope, DateTimeOffset now, CancellationToken ct)
    {
        var total = Convert.ToInt64(await tx.ScalarAsync(
            "SELECT COUNT(*) FROM resource WHERE deleted = 0 AND (@scope = '*' OR resource_type = @scope)", ct, ("scope", scope)), CultureInfo.InvariantCulture);
        var id = Guid.CreateVersion7().ToString();
        await tx.ExecuteAsync(
            "INSERT INTO search_reindex_job (id, scope, status, total, done, failed, created) VALUES (@id, @scope, 'queued', @total, 0, 0, @now)",
            ct, ("id", id), ("scope", scope), ("total", total), ("now", now.ToUnixTimeMilliseconds()));
        return new ReindexJob(id, scope, ReindexJob.Queued, null, null, total, 0, 0, null, null, null, now, null);
    }

    public static async Task<ReindexJob?> ReadAsync(DbConnection connection, DbTransaction? transaction, string id, CancellationToken ct, bool forUpdate = false)
    {
        var lockClause = forUpdate && connection is Npgsql.NpgsqlConnection ? " FOR UPDATE" : string.Empty;
        await using var cmd = Db.Command(connection, transaction, $"SELECT {Columns} FROM search_reindex_job WHERE id = @id{lockClause}", ("id", id));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    /// <summary>
    /// Claims the oldest job that is queued, running under this worker already, or running with a heartbeat older than
    /// <paramref name="staleBefore"/> (its worker died): several nodes may look at once, and on PostgreSQL SKIP LOCKED
    /// gives each a different one.
    /// </summary>
    public static async Task<ReindexJob?> ClaimAsync(StoreTransaction tx, string owner, DateTimeOffset now, DateTimeOffset staleBefore, CancellationToken ct)
    {
        var skipLocked = tx.Kind == DatabaseKind.Postgres ? " FOR UPDATE SKIP LOCKED" : string.Empty;
        string? id;
        await using (var cmd = tx.Command(
            $"SELECT id FROM search_reindex_job WHERE status = 'queued' OR (status = 'running' AND (owner = @owner OR heartbeat IS NULL OR heartbeat < @stale)) ORDER BY created, id LIMIT 1{skipLocked}",
            ("owner", owner), ("stale", staleBefore.ToUnixTimeMilliseconds())))
        {
            id = await cmd.ExecuteScalarAsync(ct) as string;
        }

        if (id is null)
        {
            return null;
        }

        await tx.ExecuteAsync("UPDATE search_reindex_job SET status = 'running', owner = @owner, heartbeat = @now WHERE id = @id", ct,
            ("owner", owner), ("now", now.ToUnixTimeMilliseconds()), ("id", id));
        return await ReadAsync(tx.Connection, tx.Transaction, id, ct);
    }

    /// <summary>The next keys of the job's scope after its cursor, in (type, id) order.</summary>
    public static async Task<List<(string Type, string Id)>> NextKeysAsync(StoreTransaction tx, ReindexJob job, int count, CancellationToken ct)
    {
        var keys = new List<(string, string)>();
        var after = job.CursorType is null ? "1 = 1" : "(resource_type > @ct OR (resource_type = @ct AND id > @cid))";
        await using var cmd = tx.Command(
            $"SELECT resource_type, id FROM resource WHERE deleted = 0 AND (@scope = '*' OR resource_type = @scope) AND {after} ORDER BY resource_type, id LIMIT @n",
            ("scope", job.Scope), ("ct", job.CursorType), ("cid", job.CursorId), ("n", count));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            keys.Add((reader.GetString(0), reader.GetString(1)));
        }

        return keys;
    }

    /// <summary>Records a batch: the cursor moves past it, counts grow, failures are kept with their reasons.</summary>
    public static async System.Threading.Tasks.Task AdvanceAsync(StoreTransaction tx, ReindexJob job, (string Type, string Id)? cursor, int done, IReadOnlyList<(string Type, string Id, string Reason)> failures, bool finished, DateTimeOffset now, CancellationToken ct)
    {
        foreach (var (type, id, reason) in failures)
        {
            await tx.ExecuteAsync("INSERT INTO search_reindex_failure (job_id, resource_type, id, reason, at) VALUES (@job, @t, @id, @reason, @now)", ct,
                ("job", job.Id), ("t", type), ("id", id), ("reason", reason), ("now", now.ToUnixTimeMilliseconds()));
        }

        await tx.ExecuteAsync(
            "UPDATE search_reindex_job SET cursor_type = @ct, cursor_id = @cid, done = done + @done, failed = failed + @failed, heartbeat = @now, "
            + "status = @status, finished = @finished, last_error = CASE WHEN @failed > 0 THEN @error ELSE last_error END WHERE id = @id",
            ct,
            ("ct", cursor?.Type ?? job.CursorType), ("cid", cursor?.Id ?? job.CursorId), ("done", (long)done), ("failed", (long)failures.Count),
            ("now", now.ToUnixTimeMilliseconds()), ("status", finished ? ReindexJob.Completed : ReindexJob.Running),
            ("finished", finished ? now.ToUnixTimeMilliseconds() : null), ("error", failures.Count > 0 ? $"{failures[^1].Type}/{failures[^1].Id}: {failures[^1].Reason}" : null),
            ("id", job.Id));
    }

    /// <summary>A batch that could not be written (the database refused it): kept as the job's last error; the job is retried.</summary>
    public static async System.Threading.Tasks.Task RecordErrorAsync(StoreTransaction tx, string jobId, string error, CancellationToken ct) =>
        await tx.ExecuteAsync("UPDATE search_reindex_job SET last_error = @error WHERE id = @id", ct, ("error", error), ("id", jobId));

    public static async Task<List<(string Type, string Id, string Reason)>> FailuresAsync(DbConnection connection, string jobId, int limit, CancellationToken ct)
    {
        var result = new List<(string, string, string)>();
        await using var cmd = Db.Command(connection, null,
            "SELECT resource_type, id, reason FROM search_reindex_failure WHERE job_id = @job ORDER BY at, resource_type, id LIMIT @n", ("job", jobId), ("n", limit));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            result.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
        }

        return result;
    }

    private static ReindexJob Read(DbDataReader r)
    {
        static DateTimeOffset? Time(DbDataReader r, int i) => r.IsDBNull(i) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(i));
        static string? Text(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);
        return new ReindexJob(
            r.GetString(0), r.GetString(1), r.GetString(2), Text(r, 3), Text(r, 4), r.GetInt64(5), r.GetInt64(6), r.GetInt64(7),
            Text(r, 8), Text(r, 9), Time(r, 10), DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(11)), Time(r, 12));
    }
}
