using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;
using Tessera.RecordStore;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Serialization;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Governance.Audit;

/// <summary>
/// The audit trail: AuditEvents in <c>gov_audit</c>, each row chained to the one before by a SHA-256 hash over its
/// position, id, time, patients, JSON and the previous row's hash; <c>gov_audit_head</c> holds the last position
/// and hash, so that deleting the newest rows is detected as well.
/// Writes are audited in their own transaction. Reads are group-committed: each read's event is queued, a single
/// writer appends whatever has queued in one transaction, and the read answers only once its event has committed —
/// durable like the writes, at the cost of one commit per batch rather than per read.
/// </summary>
public sealed class AuditTrail : IAsyncDisposable
{
    private const string ChainLock = "gov-audit-chain";
    private readonly FhirStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

    internal AuditTrail(FhirStore store, TimeProvider clock, ILogger logger)
    {
        _store = store;
        _clock = clock;
        _logger = logger;
        _writer = Task.Run(WriteQueuedAsync);
    }

    private sealed record Pending(AuditEvents.Entry? Entry, TaskCompletionSource? Done);

    internal DateTimeOffset Now => _clock.GetUtcNow();

    /// <summary>Appends events inside a caller's write transaction (they commit or roll back with it).</summary>
    internal async Task AppendAsync(StoreTransaction tx, IReadOnlyList<AuditEvents.Entry> entries, CancellationToken ct)
    {
        await tx.LockAsync(ChainLock, ct);
        long n = 0;
        var prev = string.Empty;
        await using (var cmd = tx.Command("SELECT n, hash FROM gov_audit_head WHERE one = 1"))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (await reader.ReadAsync(ct))
            {
                n = reader.GetInt64(0);
                prev = reader.GetString(1);
            }
        }

        if (entries.Count == 0)
        {
            return;
        }

        var first = n;
        foreach (var entry in entries)
        {
            n++;
            var ev = entry.Event;
            ev.Id ??= Guid.CreateVersion7().ToString();
            var json = FhirSerialization.ToJson(ev);
            var recorded = (ev.Recorded ?? Now).ToUnixTimeMilliseconds();
            var patients = string.Join(' ', entry.Patients);
            var hash = Hash(n, ev.Id, recorded, patients, json, prev);
            await tx.ExecuteAsync(
                "INSERT INTO gov_audit (n, id, recorded, patient_keys, json, prev_hash, hash) VALUES (@n, @id, @rec, @pk, @json, @prev, @hash)",
                ct, ("@n", n), ("@id", ev.Id), ("@rec", recorded), ("@pk", patients), ("@json", json), ("@prev", prev), ("@hash", hash));
            foreach (var patient in entry.Patients)
            {
                await tx.ExecuteAsync("INSERT INTO gov_audit_patient (patient_key, n) VALUES (@p, @n)", ct, ("@p", patient), ("@n", n));
            }

            prev = hash;
        }

        await tx.ExecuteAsync(
            first == 0 && !await HasHeadAsync(tx, ct) ? "INSERT INTO gov_audit_head (one, n, hash) VALUES (1, @n, @hash)" : "UPDATE gov_audit_head SET n = @n, hash = @hash WHERE one = 1",
            ct, ("@n", n), ("@hash", prev));
    }

    private static async Task<bool> HasHeadAsync(StoreTransaction tx, CancellationToken ct) => await tx.ScalarAsync("SELECT 1 FROM gov_audit_head WHERE one = 1", ct) is not null;

    internal static string Hash(long n, string id, long recorded, string patients, string json, string prev)
    {
        var text = string.Join('\n', n.ToString(CultureInfo.InvariantCulture), id, recorded.ToString(CultureInfo.InvariantCulture), patients, json, prev);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>Queues an event; the task completes once it is committed (group commit, see the class summary).</summary>
    internal Task RecordDurablyAsync(AuditEvents.Entry entry) => EnqueueAsync(entry);

    /// <summary>Completes once every event queued before it has been committed.</summary>
    public Task FlushAsync() => EnqueueAsync(null);

    private Task EnqueueAsync(AuditEvents.Entry? entry)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Pending(entry, done)))
        {
            throw new InvalidOperationException("The audit trail is closed; no access is allowed without an audit record.");
        }

        return done.Task;
    }

    /// <summary>Queues an event without waiting (refusals, which disclose nothing, inside transactions they must not join).</summary>
    internal void RecordLater(AuditEvents.Entry entry) => _queue.Writer.TryWrite(new Pending(entry, null));

    /// <summary>Records an event from outside the store's interactions, e.g. a sign-in by the authorization server.</summary>
    public Task RecordAsync(AuditEvent auditEvent, IReadOnlyList<string> patients, CancellationToken ct = default) =>
        _store.WriteAsync(async tx =>
        {
            await AppendAsync(tx, [new AuditEvents.Entry(auditEvent, patients)], ct);
            return 0;
        }, ct);

    private async Task WriteQueuedAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<Pending>();
        while (await reader.WaitToReadAsync())
        {
            while (batch.Count < 500 && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            try
            {
                await _store.WriteAsync(async tx =>
                {
                    await AppendAsync(tx, batch.Select(b => b.Entry).OfType<AuditEvents.Entry>().ToList(), CancellationToken.None);
                    return 0;
                });
                foreach (var p in batch)
                {
                    p.Done?.TrySetResult();
                }
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Could not append {Count} audit events; the reads waiting on them fail", batch.Count);
                foreach (var p in batch)
                {
                    p.Done?.TrySetException(e);
                }
            }

            batch.Clear();
        }
    }

    /// <summary>Drains the queue: every queued event is committed before this returns.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }
}
