using System.Data.Common;
using System.Globalization;
using System.Text;
using Tessera.RecordStore;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Storage;

namespace Tessera.Integration.Inbox;

/// <summary>A received message as committed before its acknowledgement.</summary>
internal sealed record InboxEntry(string Source, string ControlId, string Event, string? PatientKey, byte[] Payload, DateTimeOffset ReceivedAt, string? Remote);

/// <summary>A stored message claimed for processing.</summary>
internal sealed record InboxRow(long Id, string Source, string ControlId, string Event, byte[] Payload, int Attempts);

/// <summary>
/// The durable inbox (<c>hl7_inbox</c>): every accepted message, unique per sending application, facility and control id
/// (MSH-3, MSH-4, MSH-10), with its state: pending, done, or dead (with the reason).
/// </summary>
internal sealed class Hl7Inbox(FhirStore store)
{
    public const string Pending = "pending";
    public const string Done = "done";
    public const string Dead = "dead";

    // Rows per INSERT statement, well inside SQLite's and PostgreSQL's parameter limits.
    private const int RowsPerStatement = 100;

    private static readonly PartMigration[] Migrations =
    [
        new(
            """
            CREATE TABLE hl7_inbox (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                source TEXT NOT NULL,
                control_id TEXT NOT NULL,
                event TEXT NOT NULL,
                patient_key TEXT,
                received_at TEXT NOT NULL,
                remote TEXT,
                payload BLOB NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                error TEXT,
                processed_at TEXT,
                UNIQUE (source, control_id));
            CREATE INDEX hl7_inbox_pending ON hl7_inbox (id) WHERE state = 'pending';
            CREATE INDEX hl7_inbox_patient ON hl7_inbox (patient_key, id) WHERE state = 'pending';
            CREATE INDEX hl7_inbox_dead ON hl7_inbox (id) WHERE state = 'dead';
            """,
            """
            CREATE TABLE hl7_inbox (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                source TEXT NOT NULL,
                control_id TEXT NOT NULL,
                event TEXT NOT NULL,
                patient_key TEXT,
                received_at TIMESTAMPTZ NOT NULL,
                remote TEXT,
                payload BYTEA NOT NULL,
                state TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                error TEXT,
                processed_at TIMESTAMPTZ,
                UNIQUE (source, control_id));
            CREATE INDEX hl7_inbox_pending ON hl7_inbox (id) WHERE state = 'pending';
            CREATE INDEX hl7_inbox_patient ON hl7_inbox (patient_key, id) WHERE state = 'pending';
            CREATE INDEX hl7_inbox_dead ON hl7_inbox (id) WHERE state = 'dead';
            """),
    ];

    public FhirStore Store { get; } = store;

    public Task MigrateAsync(CancellationToken ct) => Store.MigratePartAsync("integration", Migrations, ct);

    /// <summary>Commits entries in one transaction; for each, true when it is new and false when its control id was already received.</summary>
    public Task<bool[]> AddAsync(IReadOnlyList<InboxEntry> entries, CancellationToken ct) =>
        Store.WriteAsync(async tx =>
        {
            var inserted = new HashSet<(string, string)>();
            for (var start = 0; start < entries.Count; start += RowsPerStatement)
            {
                await InsertAsync(tx, entries.Skip(start).Take(RowsPerStatement).ToList(), inserted, ct);
            }

            // A control id sent twice in one batch is new only the first time.
            var result = new bool[entries.Count];
            for (var i = 0; i < entries.Count; i++)
            {
                result[i] = inserted.Remove((entries[i].Source, entries[i].ControlId));
            }

            return result;
        }, ct);

    private static async Task InsertAsync(StoreTransaction tx, List<InboxEntry> rows, HashSet<(string, string)> inserted, CancellationToken ct)
    {
        var sql = new StringBuilder("INSERT INTO hl7_inbox (source, control_id, event, patient_key, received_at, remote, payload) VALUES ");
        var parameters = new List<(string, object?)>(rows.Count * 7);
        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            sql.Append(CultureInfo.InvariantCulture, $"{(i == 0 ? string.Empty : ",")}(@s{i},@c{i},@e{i},@k{i},@t{i},@r{i},@p{i})");
            parameters.Add(($"@s{i}", r.Source));
            parameters.Add(($"@c{i}", r.ControlId));
            parameters.Add(($"@e{i}", r.Event));
            parameters.Add(($"@k{i}", r.PatientKey));
            parameters.Add(($"@t{i}", tx.Kind == DatabaseKind.Postgres ? r.ReceivedAt.ToUniversalTime() : r.ReceivedAt.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture)));
            parameters.Add(($"@r{i}", r.Remote));
            parameters.Add(($"@p{i}", r.Payload));
        }

        sql.Append(" ON CONFLICT (source, control_id) DO NOTHING RETURNING source, control_id");
        await using var cmd = tx.Command(sql.ToString(), [.. parameters]);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            inserted.Add((reader.GetString(0), reader.GetString(1)));
        }
    }

    /// <summary>
    /// Claims pending messages in arrival order, at most one per patient at a time: a message waits while an earlier
    /// one for the same patient is pending (perhaps being processed elsewhere). On PostgreSQL rows are locked with
    /// FOR UPDATE SKIP LOCKED, so several nodes can share the work.
    /// </summary>
    public static async Task<List<InboxRow>> ClaimAsync(StoreTransaction tx, int max, CancellationToken ct, long? onlyId = null)
    {
        var sql = $"""
            SELECT i.id, i.source, i.control_id, i.event, i.payload, i.attempts FROM hl7_inbox i
            WHERE i.state = 'pending' {(onlyId is null ? string.Empty : "AND i.id = @only")}
              AND (i.patient_key IS NULL OR NOT EXISTS (
                SELECT 1 FROM hl7_inbox e WHERE e.state = 'pending' AND e.patient_key = i.patient_key AND e.id < i.id))
            ORDER BY i.id LIMIT @max{(tx.Kind == DatabaseKind.Postgres ? " FOR UPDATE OF i SKIP LOCKED" : string.Empty)}
            """;
        await using var cmd = onlyId is null ? tx.Command(sql, ("@max", max)) : tx.Command(sql, ("@max", max), ("@only", onlyId.Value));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var rows = new List<InboxRow>();
        while (await reader.ReadAsync(ct))
        {
            rows.Add(new InboxRow(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), (byte[])reader.GetValue(4), reader.GetInt32(5)));
        }

        return rows;
    }

    public static Task MarkDoneAsync(StoreTransaction tx, long id, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE hl7_inbox SET state = 'done', attempts = attempts + 1, error = NULL, processed_at = @now WHERE id = @id", ct, ("@id", id), ("@now", Now(tx)));

    public static Task MarkDeadAsync(StoreTransaction tx, long id, string reason, CancellationToken ct) =>
        tx.ExecuteAsync("UPDATE hl7_inbox SET state = 'dead', attempts = attempts + 1, error = @error, processed_at = @now WHERE id = @id", ct, ("@id", id), ("@error", reason), ("@now", Now(tx)));

    /// <summary>Puts dead letters (all, or one) back in the queue; returns their ids.</summary>
    public Task<List<long>> RequeueDeadAsync(long? id, CancellationToken ct) =>
        Store.WriteAsync(async tx =>
        {
            const string Requeue = "UPDATE hl7_inbox SET state = 'pending' WHERE state = 'dead'";
            await using var cmd = id is null ? tx.Command(Requeue + " RETURNING id") : tx.Command(Requeue + " AND id = @id RETURNING id", ("@id", id.Value));
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            var ids = new List<long>();
            while (await reader.ReadAsync(ct))
            {
                ids.Add(reader.GetInt64(0));
            }

            return ids;
        }, ct);

    /// <summary>Messages by state, counted.</summary>
    public async Task<Dictionary<string, long>> CountAsync(CancellationToken ct)
    {
        await using var connection = await Store.OpenConnectionAsync(ct);
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT state, COUNT(*) FROM hl7_inbox GROUP BY state";
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var counts = new Dictionary<string, long> { [Pending] = 0, [Done] = 0, [Dead] = 0 };
        while (await reader.ReadAsync(ct))
        {
            counts[reader.GetString(0)] = reader.GetInt64(1);
        }

        return counts;
    }

    /// <summary>Stored messages with a given state (or ids), oldest first.</summary>
    public async Task<List<Hl7InboxMessage>> ListAsync(string? state, IReadOnlyCollection<long>? ids, int limit, CancellationToken ct)
    {
        await using var connection = await Store.OpenConnectionAsync(ct);
        await using var cmd = connection.CreateCommand();
        var where = new List<string>();
        if (state is not null)
        {
            where.Add("state = @state");
            Add(cmd, "@state", state);
        }

        if (ids is not null)
        {
            where.Add($"id IN ({(ids.Count == 0 ? "NULL" : string.Join(',', ids.Select(i => i.ToString(CultureInfo.InvariantCulture))))})");
        }

        cmd.CommandText = $"SELECT id, source, control_id, event, received_at, state, attempts, error FROM hl7_inbox{(where.Count == 0 ? string.Empty : " WHERE " + string.Join(" AND ", where))} ORDER BY id LIMIT @limit";
        Add(cmd, "@limit", limit);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<Hl7InboxMessage>();
        while (await reader.ReadAsync(ct))
        {
            var received = reader.GetValue(4) switch
            {
                DateTime d => new DateTimeOffset(DateTime.SpecifyKind(d, DateTimeKind.Utc)),
                DateTimeOffset o => o,
                var text => DateTimeOffset.Parse(Convert.ToString(text, CultureInfo.InvariantCulture)!, CultureInfo.InvariantCulture),
            };
            list.Add(new Hl7InboxMessage(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), received, reader.GetString(5), reader.GetInt32(6), reader.IsDBNull(7) ? null : reader.GetString(7)));
        }

        return list;
    }

    private static object Now(StoreTransaction tx) =>
        tx.Kind == DatabaseKind.Postgres ? DateTimeOffset.UtcNow : DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);

    private static void Add(DbCommand cmd, string name, object value)
    {
        var p = cmd.CreateParameter();
        p.ParameterName = name;
        p.Value = value;
        cmd.Parameters.Add(p);
    }
}

/// <summary>A stored message as the operator sees it.</summary>
public sealed record Hl7InboxMessage(long Id, string Source, string ControlId, string Event, DateTimeOffset ReceivedAt, string State, int Attempts, string? Error);
