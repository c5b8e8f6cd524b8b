using Microsoft.Extensions.Logging;
using Npgsql;
using Tessera.Governance.Policy;
using Tessera.RecordStore;
using Tessera.RecordStore.Storage;

namespace Tessera.Governance.Storage;

/// <summary>
/// Listens, on a connection of its own, for the signals PostgreSQL sends when the governance index changes (see
/// <see cref="GovernanceSchema"/>, step 9), and applies them to <see cref="GovernanceChanges"/>. Answers are trusted
/// only while it listens: a lost connection stops that at once, and it connects again (after 1 s, doubling to 30 s).
/// Before it is trusted, and whenever it has heard nothing for 5 s, the connection must hear a signal of its own sent
/// from another connection, so that one silently gone deaf is noticed.
/// </summary>
internal sealed class ChangeListener : IAsyncDisposable
{
    public const string Channel = "tessera_gov";

    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(30);

    private readonly FhirStore _store;
    private readonly GovernanceChanges _changes;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private ChangeListener(FhirStore store, GovernanceChanges changes, ILogger logger)
    {
        _store = store;
        _changes = changes;
        _logger = logger;
        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Starts listening (PostgreSQL only; null on SQLite, where answers are not kept).</summary>
    public static ChangeListener? Start(FhirStore store, GovernanceChanges changes, ILogger logger) =>
        store.Kind == DatabaseKind.Postgres ? new ChangeListener(store, changes, logger) : null;

    private async Task RunAsync(CancellationToken ct)
    {
        var wait = TimeSpan.FromSeconds(1);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = (NpgsqlConnection)await _store.OpenConnectionAsync(ct);
                connection.Notification += (_, e) => Heard(e.Payload);
                try
                {
                    await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                    {
                        await listen.ExecuteNonQueryAsync(ct);
                    }

                    // Trusted only once a signal sent from another connection has been heard on this one.
                    await ProveAsync(connection, ct);
                    _changes.Watch(true);
                    _logger.LogInformation("Listening for changes to the governance index on channel {Channel}", Channel);
                    wait = TimeSpan.FromSeconds(1);
                    while (true)
                    {
                        if (!await connection.WaitAsync(CheckEvery, ct))
                        {
                            await ProveAsync(connection, ct);
                        }
                    }
                }
                finally
                {
                    await StopListeningAsync(connection);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "Lost the connection that hears changes to the governance index; requests test their patient in the database until it is back (next try in {Seconds} s)", wait.TotalSeconds);
            }
            finally
            {
                _changes.Watch(false);
            }

            try
            {
                await Task.Delay(wait, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, LongestWait.Ticks));
        }
    }

    /// <summary>Signals of this listener's own, sent to prove that the channel delivers (never a patient key: ids have no ':').</summary>
    private const string ProbePrefix = "tessera-probe:";

    private volatile string? _probe;

    private void Heard(string payload)
    {
        if (payload.StartsWith(ProbePrefix, StringComparison.Ordinal))
        {
            if (payload == _probe)
            {
                _probe = null;
            }

            return;
        }

        _changes.Apply(payload);
    }

    /// <summary>
    /// Sends a signal on another connection of the pool and waits for it here: a connection that seems alive but no
    /// longer hears the channel (a server restarted behind a proxy, a pooler in transaction mode) fails the check and
    /// is replaced, and answers are not trusted meanwhile.
    /// </summary>
    private async Task ProveAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var probe = ProbePrefix + Guid.NewGuid().ToString("N");
        _probe = probe;
        await using (var other = (NpgsqlConnection)await _store.OpenConnectionAsync(ct))
        await using (var send = new NpgsqlCommand($"SELECT pg_notify('{Channel}', @probe)", other))
        {
            send.Parameters.AddWithValue("probe", probe);
            await send.ExecuteNonQueryAsync(ct);
        }

        var deadline = DateTime.UtcNow + CheckEvery;
        while (_probe == probe)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"A signal sent on channel {Channel} was not heard within {CheckEvery.TotalSeconds} s.");
            }

            await connection.WaitAsync(left, ct);
        }
    }

    /// <summary>
    /// Leaves the channel before a connection still open goes back to the pool (which does not reset sessions), so that
    /// no query connection receives the signals afterwards.
    /// </summary>
    private static async Task StopListeningAsync(NpgsqlConnection connection)
    {
        if (connection.FullState != System.Data.ConnectionState.Open)
        {
            return;
        }

        try
        {
            await using var unlisten = new NpgsqlCommand("UNLISTEN *", connection) { CommandTimeout = 5 };
            await unlisten.ExecuteNonQueryAsync(CancellationToken.None);
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The connection went with the error that ended listening: it is not returned to the pool.
        }
    }

    private int _disposed;

    /// <summary>Stops listening; safe to call more than once (the host and the store's owner may both dispose of governance).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
