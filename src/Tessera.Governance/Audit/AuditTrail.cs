using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;
using Tessera.RecordStore;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Governance.Audit;

/// <summary>
/// The audit trail. Events are rows of <c>gov_audit_event</c>, one event to a row or, for reads' events, a batch to a
/// row (see <see cref="AuditRows"/>); the chain is <c>gov_audit_chain</c>, one row per event row in chain order, each
/// hashed (SHA-256) over its position, the row's id, time, patients and JSON, and the previous row's hash;
/// <c>gov_audit_head</c> holds the newest position and hash, so that deleting the newest rows is detected as well.
/// <para>
/// Appending takes no lock: a write's events are inserted in the write's own transaction and queued in
/// <c>gov_audit_pending</c>; one chainer (a lock makes it one across nodes) links whatever is queued, in order,
/// shortly after. Reads' events are group-committed by a single background writer, which is the chainer: it appends
/// them already linked, after what was queued, without passing them through the queue, up to a hundred to a row; a read does not wait for its
/// event's commit unless <see cref="GovernanceOptions.AwaitReadAudit"/> says so (the queue is bounded, so reads slow
/// down rather than outrun the trail), and an event the database refused is kept and appended at the next attempt.
/// Anything that reads the trail in this process flushes the queue first.
/// </para>
/// </summary>
public sealed class AuditTrail : IAsyncDisposable
{
    private const string ChainLock = "gov-audit-chain";
    private const int ChainBatch = 2000;
    private const int MaxBatch = 1000;
    private readonly FhirStore _store;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly Channel<Pending> _queue;
    private readonly TimeSpan _chainInterval;
    private readonly TimeSpan _linger;
    private CancellationTokenSource? _lingering;

    /// <summary>How many times a flush or the closing has cut a linger short (see <see cref="GatherAsync"/>).</summary>
    private int _cuts;

    /// <summary>Set once the trail is being disposed: a failing append is then tried only a few more times.</summary>
    private volatile bool _closing;
    private readonly Task _writer;

    internal AuditTrail(FhirStore store, GovernanceOptions options, ILogger logger)
    {
        _store = store;
        _clock = options.Clock;
        _logger = logger;
        AwaitReads = options.AwaitReadAudit;
        _chainInterval = TimeSpan.FromMilliseconds(Math.Max(10, options.AuditChainMilliseconds));
        _linger = TimeSpan.FromMilliseconds(Math.Clamp(options.AuditLingerMilliseconds, 0, options.AuditChainMilliseconds));
        _queue = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Math.Max(1, options.AuditQueueLimit)) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _writer = Task.Run(WriteQueuedAsync);
    }

    private sealed record Pending(AuditEvents.Entry? Entry, TaskCompletionSource? Done);

    internal DateTimeOffset Now => _clock.GetUtcNow();

    /// <summary>Whether a read waits until its audit event has committed.</summary>
    internal bool AwaitReads { get; }

    /// <summary>Appends events inside a caller's write transaction (they commit or roll back with it); the chainer links them.</summary>
    internal static async Task AppendAsync(StoreTransaction tx, IReadOnlyList<AuditEvents.Entry> entries, CancellationToken ct)
    {
        if (entries.Count == 0)
        {
            return;
        }

        var rows = entries.Select(e => (e.Id, e.Recorded, Patients: string.Join(' ', e.Patients), e.Content)).ToList();
        if (tx.Kind == DatabaseKind.Postgres)
        {
            // One statement for the whole batch: the events in order and their places in the queue to be chained
            // (their patients are indexed in place: see AuditSubjects).
            await tx.ExecuteAsync(
                """
                WITH e AS (INSERT INTO gov_audit_event (id, recorded, patient_keys, json)
                           SELECT u.id, u.rec, u.pk, u.json FROM unnest(CAST(@id AS text[]), CAST(@rec AS bigint[]), CAST(@pk AS text[]), CAST(@json AS text[])) WITH ORDINALITY AS u(id, rec, pk, json, ord) ORDER BY u.ord
                           RETURNING seq)
                INSERT INTO gov_audit_pending (seq) SELECT seq FROM e
                """,
                ct, ("@id", rows.Select(r => r.Id).ToArray()), ("@rec", rows.Select(r => r.Recorded).ToArray()), ("@pk", rows.Select(r => r.Patients).ToArray()), ("@json", rows.Select(r => r.Content).ToArray()));
            return;
        }

        foreach (var (id, recorded, patients, json) in rows)
        {
            var seq = Convert.ToInt64(await tx.ScalarAsync(
                "INSERT INTO gov_audit_event (id, recorded, patient_keys, json) VALUES (@id, @rec, @pk, @json) RETURNING seq",
                ct, ("@id", id), ("@rec", recorded), ("@pk", patients), ("@json", json)), CultureInfo.InvariantCulture);
            await tx.ExecuteAsync("INSERT INTO gov_audit_pending (seq) VALUES (@s)", ct, ("@s", seq));
            foreach (var patient in patients.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                await tx.ExecuteAsync("INSERT INTO gov_audit_subject (patient_key, seq) VALUES (@p, @s)", ct, ("@p", patient), ("@s", seq));
            }
        }
    }

    /// <summary>
    /// Links queued events into the chain, oldest first, then appends <paramref name="direct"/> (reads' events, which
    /// the chainer writes itself) already linked: they never pass through the queue. Returns how many queued events
    /// were linked.
    /// </summary>
    private static async Task<int> ChainAsync(StoreTransaction tx, IReadOnlyList<AuditEvents.Entry> direct, CancellationToken ct)
    {
        await tx.LockAsync(ChainLock, ct);
        long n = 0;
        var prev = string.Empty;
        var hasHead = false;
        await using (var cmd = tx.Command("SELECT n, hash FROM gov_audit_head WHERE one = 1"))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (await reader.ReadAsync(ct))
            {
                (n, prev, hasHead) = (reader.GetInt64(0), reader.GetString(1), true);
            }
        }

        var links = new List<(long N, long Seq, string Prev, string Hash)>();
        // The queue first, then its events by key: a join lets PostgreSQL plan a scan of the whole (growing) event
        // table against a queue its statistics think is large, while the queue is a few rows.
        var queued = new List<long>();
        await using (var cmd = tx.Command($"SELECT seq FROM gov_audit_pending ORDER BY seq LIMIT {ChainBatch}"))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                queued.Add(reader.GetInt64(0));
            }
        }

        var events = queued.Count == 0 ? null : tx.Kind == DatabaseKind.Postgres
            ? tx.Command("SELECT e.seq, e.id, e.recorded, e.patient_keys, e.json FROM gov_audit_event e WHERE e.seq = ANY(@s) ORDER BY e.seq", ("@s", queued.ToArray()))
            : tx.Command($"SELECT e.seq, e.id, e.recorded, e.patient_keys, e.json FROM gov_audit_pending p JOIN gov_audit_event e ON e.seq = p.seq ORDER BY p.seq LIMIT {ChainBatch}");
        if (events is not null)
        {
            await using var cmd = events;
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                n++;
                var hash = Hash(n, reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4), prev);
                links.Add((n, reader.GetInt64(0), prev, hash));
                prev = hash;
            }
        }

        if (links.Count == 0 && direct.Count == 0)
        {
            return 0;
        }

        if (links.Count > 0 && tx.Kind == DatabaseKind.Postgres)
        {
            var seqs = links.Select(l => l.Seq).ToArray();
            await tx.ExecuteAsync(
                "INSERT INTO gov_audit_chain (n, seq, prev_hash, hash) SELECT * FROM unnest(CAST(@n AS bigint[]), CAST(@s AS bigint[]), CAST(@p AS text[]), CAST(@h AS text[]))",
                ct, ("@n", links.Select(l => l.N).ToArray()), ("@s", seqs), ("@p", links.Select(l => l.Prev).ToArray()), ("@h", links.Select(l => l.Hash).ToArray()));
            await tx.ExecuteAsync("DELETE FROM gov_audit_pending WHERE seq = ANY(@s)", ct, ("@s", seqs));
        }
        else
        {
            foreach (var link in links) // none when nothing was queued
            {
                await tx.ExecuteAsync("INSERT INTO gov_audit_chain (n, seq, prev_hash, hash) VALUES (@n, @s, @p, @h)", ct, ("@n", link.N), ("@s", link.Seq), ("@p", link.Prev), ("@h", link.Hash));
                await tx.ExecuteAsync("DELETE FROM gov_audit_pending WHERE seq = @s", ct, ("@s", link.Seq));
            }
        }

        if (direct.Count > 0)
        {
            (n, prev) = await AppendLinkedAsync(tx, direct, n, prev, ct);
        }

        await tx.ExecuteAsync(
            hasHead ? "UPDATE gov_audit_head SET n = @n, hash = @hash WHERE one = 1" : "INSERT INTO gov_audit_head (one, n, hash) VALUES (1, @n, @hash)",
            ct, ("@n", n), ("@hash", prev));
        return links.Count;
    }

    /// <summary>
    /// Appends reads' events with their chain rows, after position <paramref name="n"/> and hash
    /// <paramref name="prev"/>, laid out in rows by <see cref="AuditRows.Pack"/> (a batch row has one chain row);
    /// returns the new head.
    /// </summary>
    private static async Task<(long N, string Hash)> AppendLinkedAsync(StoreTransaction tx, IReadOnlyList<AuditEvents.Entry> entries, long n, string prev, CancellationToken ct)
    {
        var rows = new List<(AuditRows.Row Row, long N, string Prev, string Hash)>(entries.Count);
        foreach (var row in AuditRows.Pack(entries))
        {
            n++;
            var hash = Hash(n, row.Id, row.Recorded, row.Patients, row.Json, prev);
            rows.Add((row, n, prev, hash));
            prev = hash;
        }

        if (tx.Kind == DatabaseKind.Postgres)
        {
            // One statement: the rows and their chain rows (the hash covers no database-assigned value, so it is
            // known before the insert); their patients are indexed in place (see AuditSubjects). The rows go straight
            // from the arrays into the table, in the arrays' order (a function scan feeding an insert), and the chain
            // rows find their row by id. Passing the rows through a common table expression sorted by position, as
            // this did before, made PostgreSQL copy and sort every row's JSON twice more: appending two 35 kB batch
            // rows took about half as long without it.
            await tx.ExecuteAsync(
                """
                WITH e AS (INSERT INTO gov_audit_event (id, recorded, patient_keys, json, events)
                           SELECT * FROM unnest(CAST(@id AS text[]), CAST(@rec AS bigint[]), CAST(@pk AS text[]), CAST(@json AS text[]), CAST(@ev AS integer[]))
                           RETURNING seq, id)
                INSERT INTO gov_audit_chain (n, seq, prev_hash, hash)
                SELECT c.n, e.seq, c.prev, c.hash FROM e JOIN unnest(CAST(@id AS text[]), CAST(@n AS bigint[]), CAST(@prev AS text[]), CAST(@hash AS text[])) AS c(id, n, prev, hash) ON c.id = e.id
                """,
                ct,
                ("@id", rows.Select(r => r.Row.Id).ToArray()), ("@rec", rows.Select(r => r.Row.Recorded).ToArray()), ("@pk", rows.Select(r => r.Row.Patients).ToArray()), ("@json", rows.Select(r => r.Row.Json).ToArray()),
                ("@ev", rows.Select(r => r.Row.Events).ToArray()), ("@n", rows.Select(r => r.N).ToArray()), ("@prev", rows.Select(r => r.Prev).ToArray()), ("@hash", rows.Select(r => r.Hash).ToArray()));
            return (n, prev);
        }

        foreach (var (row, rowN, rowPrev, rowHash) in rows)
        {
            var seq = Convert.ToInt64(await tx.ScalarAsync(
                "INSERT INTO gov_audit_event (id, recorded, patient_keys, json, events) VALUES (@id, @rec, @pk, @json, @ev) RETURNING seq",
                ct, ("@id", row.Id), ("@rec", row.Recorded), ("@pk", row.Patients), ("@json", row.Json), ("@ev", row.Events)), CultureInfo.InvariantCulture);
            await tx.ExecuteAsync("INSERT INTO gov_audit_chain (n, seq, prev_hash, hash) VALUES (@n, @s, @p, @h)", ct, ("@n", rowN), ("@s", seq), ("@p", rowPrev), ("@h", rowHash));
            var patients = AuditRows.PatientsOf(row.Patients, row.Events is not null).ToArray();
            if (patients.Length > 0)
            {
                // The row's patients, each once, in one statement however many events share the row.
                await tx.ExecuteAsync(
                    "INSERT INTO gov_audit_subject (patient_key, seq) SELECT value, @s FROM json_each(@p)",
                    ct, ("@p", JsonSerializer.Serialize(patients, AuditJson.Default.StringArray)), ("@s", seq));
            }
        }

        return (n, prev);
    }

    /// <summary>
    /// A chain row's hash: SHA-256 over the UTF-8 of its position, id, time, patients, JSON and the previous hash, one
    /// to a line. The text is hashed piece by piece: a batch row's JSON is tens of kilobytes, and joining the pieces
    /// into one string first copied it twice more.
    /// </summary>
    internal static string Hash(long n, string id, long recorded, string patients, string json, string prev)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(HashChunk * 3);
        try
        {
            Span<char> number = stackalloc char[20];
            n.TryFormat(number, out var written, provider: CultureInfo.InvariantCulture);
            AppendLine(sha, buffer, number[..written]);
            AppendLine(sha, buffer, id);
            recorded.TryFormat(number, out written, provider: CultureInfo.InvariantCulture);
            AppendLine(sha, buffer, number[..written]);
            AppendLine(sha, buffer, patients);
            AppendLine(sha, buffer, json);
            AppendUtf8(sha, buffer, prev);
            return Convert.ToHexStringLower(sha.GetHashAndReset());
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>How many characters are encoded at a time for the hash.</summary>
    private const int HashChunk = 4096;

    private static void AppendLine(IncrementalHash sha, byte[] buffer, ReadOnlySpan<char> text)
    {
        AppendUtf8(sha, buffer, text);
        sha.AppendData("\n"u8);
    }

    /// <summary>The UTF-8 of <paramref name="text"/>, as <see cref="Encoding.UTF8"/> encodes the whole (a chunk never ends between a surrogate pair's halves).</summary>
    private static void AppendUtf8(IncrementalHash sha, byte[] buffer, ReadOnlySpan<char> text)
    {
        while (text.Length > 0)
        {
            var take = Math.Min(HashChunk, text.Length);
            if (take < text.Length && char.IsHighSurrogate(text[take - 1]))
            {
                take--;
            }

            sha.AppendData(buffer, 0, Encoding.UTF8.GetBytes(text[..take], buffer));
            text = text[take..];
        }
    }

    /// <summary>
    /// Queues a read's event. The returned task completes once the event has committed; callers that need not wait
    /// for that (see <see cref="AwaitReads"/>) still wait here when the queue is full.
    /// </summary>
    internal async Task<Task> EnqueueAsync(AuditEvents.Entry entry)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await QueueAsync(new Pending(entry, done));
        CutLingerShort(); // someone waits for this commit
        return done.Task;
    }

    /// <summary>
    /// Queues a read's event and, when so configured, waits for its commit. A read that does not wait queues its
    /// event without a completion to signal (nothing would observe it).
    /// </summary>
    internal async ValueTask RecordReadAsync(AuditEvents.Entry entry)
    {
        if (AwaitReads)
        {
            await await EnqueueAsync(entry);
        }
        else
        {
            await QueueAsync(new Pending(entry, null));
        }
    }

    /// <summary>Queues an event, suspending only while the queue is full; refused once the trail is closed.</summary>
    private async ValueTask QueueAsync(Pending pending)
    {
        if (_queue.Writer.TryWrite(pending))
        {
            return;
        }

        try
        {
            await _queue.Writer.WriteAsync(pending);
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException("The audit trail is closed; no access is allowed without an audit record.");
        }
    }

    /// <summary>Completes once every event queued before it has been committed and every committed event chained.</summary>
    public async Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_queue.Writer.TryWrite(new Pending(null, done)))
        {
            try
            {
                await _queue.Writer.WriteAsync(new Pending(null, done));
            }
            catch (ChannelClosedException)
            {
                return; // Closed: disposal drains and chains everything.
            }
        }

        CutLingerShort();
        await done.Task;
    }

    /// <summary>Queues an event without waiting for it (refusals, which disclose nothing, inside transactions they must not join).</summary>
    internal void RecordLater(AuditEvents.Entry entry)
    {
        if (!_queue.Writer.TryWrite(new Pending(entry, null)))
        {
            _ = _queue.Writer.WriteAsync(new Pending(entry, null)).AsTask().ContinueWith(
                t => _logger.LogError(t.Exception, "An audit event could not be queued: the trail is closed"), TaskContinuationOptions.OnlyOnFaulted);
        }
    }

    /// <summary>Records an event from outside the store's interactions, e.g. a sign-in by the authorization server.</summary>
    public Task RecordAsync(AuditEvent auditEvent, IReadOnlyList<string> patients, CancellationToken ct = default) =>
        RecordAsync(AuditEvents.Entry.Of(auditEvent, patients), ct);

    internal Task RecordAsync(AuditEvents.Entry entry, CancellationToken ct) =>
        _store.WriteAsync(async tx =>
        {
            await AppendAsync(tx, [entry], ct);
            return 0;
        }, ct);

    /// <summary>How many failed attempts a closing trail makes to append what it holds before it gives up on it.</summary>
    private const int AttemptsWhenClosing = 3;

    private async Task WriteQueuedAsync()
    {
        // The writer commits every few tens of milliseconds: on a hot connection it would push the requests of those
        // moments to another backend.
        using var background = FhirStore.InBackground();
        var reader = _queue.Reader;
        var batch = new List<Pending>();
        var open = true;
        var failuresWhileClosing = 0;
        while (open || batch.Count > 0)
        {
            if (batch.Count == 0)
            {
                open = await WaitAsync(reader);
            }

            await GatherAsync(reader, batch);
            var appended = false;
            try
            {
                var entries = batch.Select(b => b.Entry).OfType<AuditEvents.Entry>().ToList();
                if (batch.Count == 0 && !await AnyPendingAsync())
                {
                    continue;
                }

                int chained;
                do
                {
                    var direct = appended ? [] : entries;
                    chained = await _store.WriteAsync(tx => ChainAsync(tx, direct, CancellationToken.None));
                    appended = true;
                }
                while (chained == ChainBatch);

                foreach (var p in batch)
                {
                    p.Done?.TrySetResult();
                }
            }
            catch (Exception e)
            {
                // A read that was answered without waiting for its event cannot be taken back, so its event stays in the
                // batch and is appended at the next attempt (while the database is away, the queue fills and reads
                // wait). Whoever waits for a commit — a read that must not answer before its event is stored, a flush
                // — is told of the failure instead, and that read is not answered. A closing trail tries a few times
                // more (the writer learns of the closing from the flag: it does not wait on the queue while it holds events).
                failuresWhileClosing += _closing ? 1 : 0;
                var kept = appended ? [] : batch.Where(p => p.Done is null && p.Entry is not null).ToList();
                foreach (var p in batch)
                {
                    p.Done?.TrySetException(e);
                }

                batch.Clear();
                if (failuresWhileClosing < AttemptsWhenClosing)
                {
                    batch.AddRange(kept);
                    _logger.LogError(e, "Could not append audit events; {Kept} events of reads already answered are kept and appended at the next attempt", kept.Count);
                }
                else
                {
                    _logger.LogCritical(e, "The audit trail is closing and could not append {Lost} events of reads already answered after {Attempts} attempts", kept.Count, failuresWhileClosing);
                }

                await Task.Delay(_chainInterval); // e.g. the database is away: do not spin on it
                continue;
            }

            batch.Clear();
        }
    }

    /// <summary>
    /// Takes what is queued into the batch and, while no one waits on the commit, lingers a moment before taking the
    /// rest: one transaction and one disk flush then carry the events of many reads instead of one each. The writer
    /// sleeps through the linger (it is not woken by every read); a flush, an event whose commit is waited for, or the
    /// closing cuts it short.
    /// </summary>
    private async Task GatherAsync(ChannelReader<Pending> reader, List<Pending> batch)
    {
        var cuts = Volatile.Read(ref _cuts);
        Drain(reader, batch);
        if (batch.Count == 0 || batch.Count >= MaxBatch || _linger <= TimeSpan.Zero || AwaitReads || _closing || batch.Exists(p => p.Done is not null))
        {
            return;
        }

        using var lingering = new CancellationTokenSource(_linger);
        Interlocked.Exchange(ref _lingering, lingering);
        try
        {
            // A flush that came after the queue was drained but before the linger could be cut is not missed.
            if (Volatile.Read(ref _cuts) == cuts)
            {
                await Task.Delay(Timeout.InfiniteTimeSpan, lingering.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // The linger ran out, or a flush arrived.
        }
        finally
        {
            Volatile.Write(ref _lingering, null);
        }

        Drain(reader, batch);
    }

    private static void Drain(ChannelReader<Pending> reader, List<Pending> batch)
    {
        while (batch.Count < MaxBatch && reader.TryRead(out var item))
        {
            batch.Add(item);
        }
    }

    /// <summary>Ends the writer's linger, so what is queued commits now.</summary>
    private void CutLingerShort()
    {
        try
        {
            Interlocked.Increment(ref _cuts);
            Volatile.Read(ref _lingering)?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The linger had just ended.
        }
    }

    private async Task<bool> AnyPendingAsync()
    {
        await using var connection = await _store.OpenConnectionAsync();
        await using var cmd = FhirStore.Command(connection, "SELECT 1 FROM gov_audit_pending LIMIT 1");
        return await cmd.ExecuteScalarAsync() is not null;
    }

    /// <summary>Waits for queued events, or for the chain interval to pass (to chain what writes appended); false once closed and drained.</summary>
    private async Task<bool> WaitAsync(ChannelReader<Pending> reader)
    {
        using var tick = new CancellationTokenSource(_chainInterval);
        try
        {
            return await reader.WaitToReadAsync(tick.Token);
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    /// <summary>Drains the queue: every queued event is committed and chained before this returns.</summary>
    public async ValueTask DisposeAsync()
    {
        _closing = true;
        _queue.Writer.TryComplete();
        CutLingerShort();
        await _writer;
    }
}
