using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;

namespace Tessera.RecordStore.Storage;

/// <summary>
/// Checkpoints a SQLite file's write-ahead log in the background, off the path of the writes.
/// <para>
/// SQLite's own automatic checkpoint runs inside the commit that takes the log past 1,000 pages: that one write
/// then copies the log into the database file and flushes both, a few milliseconds (on a slow disk, most of a second),
/// once every few dozen writes, and the client that sent it waits. The store's connections turn it off
/// (<c>wal_autocheckpoint=0</c>, see <see cref="SqliteDialect"/>) and this checkpointer does the work a second after
/// writes instead (one checkpoint for all the writes of that second), between writes: it holds the writer gate while
/// it copies, so the whole log is copied and the next write starts it over from the beginning. The store's connections share one cache (<c>Cache=Shared</c>), in which
/// a checkpoint cannot run while any connection of the process is inside a transaction (SQLite answers
/// <c>SQLITE_LOCKED</c>); it then lets the gate go and tries again a moment later.
/// </para>
/// </summary>
internal sealed class SqliteCheckpointer : IAsyncDisposable
{
    /// <summary>
    /// How long after a write the checkpoint starts, so that one checkpoint serves the writes of that second: checking
    /// the log 50 ms after every write cost reads by id a tenth of their rate on a server whose reads' audit records
    /// were written every 50 ms (a checkpoint holds the shared cache while it copies and flushes).
    /// </summary>
    private static readonly TimeSpan Gather = TimeSpan.FromSeconds(1);

    /// <summary>How often the log is checkpointed when no write of this process said so (another process's writes).</summary>
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(10);

    /// <summary>How long the checkpointer waits before trying again when a transaction in progress kept it out.</summary>
    private static readonly TimeSpan Retry = TimeSpan.FromMilliseconds(5);

    /// <summary>How many times one checkpoint is tried before it is left to the next round.</summary>
    private const int Attempts = 200;

    /// <summary>How long the checkpointer waits after a failure before it tries again.</summary>
    private static readonly TimeSpan AfterFailure = TimeSpan.FromSeconds(1);

    private readonly Func<CancellationToken, Task<DbConnection>> _open;
    private readonly SemaphoreSlim _writerGate;
    private readonly ILogger _logger;
    /// <summary>
    /// Wakes the loop after writes. Unbounded on purpose: a write that ends while the loop is between its wait and
    /// clearing <see cref="_signalled"/> (its wait having timed out) leaves a wake-up the loop has not taken, and the
    /// next write adds another. A bound of one made that second write throw inside the committed write's dispose, so
    /// its caller was told a stored write had failed. An extra wake-up costs one more checkpoint round, nothing else.
    /// </summary>
    private readonly SemaphoreSlim _written = new(0);
    private readonly TimeSpan _gather;
    private readonly TimeSpan _idle;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _signalled;
    private long _runs;
    private int _missed;
    private int _disposed;

    public SqliteCheckpointer(Func<CancellationToken, Task<DbConnection>> open, SemaphoreSlim writerGate, ILogger logger)
        : this(open, writerGate, logger, Gather, Idle)
    {
    }

    /// <summary>With other timings than the store's (tests drive the loop fast).</summary>
    internal SqliteCheckpointer(Func<CancellationToken, Task<DbConnection>> open, SemaphoreSlim writerGate, ILogger logger, TimeSpan gather, TimeSpan idle)
    {
        (_open, _writerGate, _logger, _gather, _idle) = (open, writerGate, logger, gather, idle);
        _loop = Task.Run(RunAsync);
    }

    /// <summary>How many checkpoints after writes of this process the background loop has completed (for tests and diagnostics).</summary>
    public long Runs => Interlocked.Read(ref _runs);

    /// <summary>Tells the checkpointer that a write has ended; cheap, and never waits.</summary>
    public void Written()
    {
        // The semaphore is released only when the flag goes from clear to set, so a burst of writes wakes the loop once
        // (or twice, see _written), never once per write.
        if (Interlocked.Exchange(ref _signalled, 1) == 0)
        {
            _written.Release();
        }
    }

    /// <summary>
    /// Copies the log into the database file between writes. Returns the log's length in pages and how many of them
    /// are now in the database file, as SQLite reports them, or null when transactions in progress kept the
    /// checkpoint out every time it tried.
    /// </summary>
    public async Task<(long Log, long Copied)?> CheckpointAsync(CancellationToken ct)
    {
        await using var connection = (SqliteConnection)await _open(ct);
        for (var attempt = 1; ; attempt++)
        {
            int rc, log, copied;
            await _writerGate.WaitAsync(ct);
            try
            {
                rc = raw.sqlite3_wal_checkpoint_v2(connection.Handle, "main", raw.SQLITE_CHECKPOINT_PASSIVE, out log, out copied);
            }
            finally
            {
                _writerGate.Release();
            }

            if (rc == raw.SQLITE_OK)
            {
                return (log, copied);
            }

            if (rc is not (raw.SQLITE_LOCKED or raw.SQLITE_BUSY))
            {
                SqliteException.ThrowExceptionForRC(rc, connection.Handle);
            }

            if (attempt == Attempts)
            {
                return null;
            }

            await Task.Delay(Retry, ct);
        }
    }

    private async Task RunAsync()
    {
        var stop = _stop.Token;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var written = await _written.WaitAsync(_idle, stop);
                await Task.Delay(_gather, stop);
                Volatile.Write(ref _signalled, 0);
                if (await CheckpointAsync(stop) is null)
                {
                    // The log keeps growing until a checkpoint gets in; say so now and then, not every round.
                    if (++_missed % 100 == 1)
                    {
                        _logger.LogWarning("Transactions in progress kept the SQLite write-ahead log from being checkpointed {Missed} times in a row; the log grows until a checkpoint gets in", _missed);
                    }

                    continue;
                }

                _missed = 0;
                if (written)
                {
                    Interlocked.Increment(ref _runs);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The log keeps every write meanwhile (nothing is lost); it only grows until a checkpoint succeeds.
                _logger.LogWarning(e, "Could not checkpoint the SQLite write-ahead log; trying again shortly");
                try
                {
                    await Task.Delay(AfterFailure, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Stops the loop (once, however often the store is disposed). Closing the last connection to the file then checkpoints the rest of the log (SQLite does that itself).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // The semaphore is left undisposed: a write that ends after this still tells it, harmlessly.
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
