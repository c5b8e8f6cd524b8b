using System.Data;
using Npgsql;

namespace Tessera.RecordStore.Storage;

/// <summary>
/// Connections to PostgreSQL from two pools: a small one of "hot" connections, as many as this machine has cores,
/// that serves whenever one of them is free, and the configured pool for whatever is asked for beyond that.
/// <para>
/// Npgsql's pool hands out its idle connections oldest first. Once a server has had many requests in flight (a
/// morning peak, a bulk load), every later request therefore goes to another PostgreSQL backend, each of them cold —
/// its caches, and on a virtual machine the wake-up of a process that slept longest. Measured on the 2-core machine
/// Tessera is benchmarked on, one client reading by id ran 9,200–11,000 queries a second over a pool of one or two
/// connections and 6,300–6,400 over sixteen. The hot pool keeps a quiet server's work on the same few backends; a
/// busy one uses both pools, and all its backends are busy anyway.
/// </para>
/// </summary>
internal sealed class PostgresConnections : IAsyncDisposable
{
    private readonly NpgsqlDataSource? _hot;
    private readonly NpgsqlDataSource _rest;
    private readonly int _hotSize;
    private int _hotInUse;

    public PostgresConnections(NpgsqlDataSourceBuilder builder, int hotSize)
    {
        var settings = builder.ConnectionStringBuilder;
        _hotSize = settings.Pooling ? Math.Clamp(hotSize, 0, settings.MaxPoolSize) : 0;
        _rest = builder.Build();
        if (_hotSize > 0)
        {
            // The same settings with a pool of its own, whose size is the number of hot connections: a hot open never
            // waits for more than a connection on its way back.
            var hot = new NpgsqlDataSourceBuilder(settings.ConnectionString);
            hot.ConnectionStringBuilder.MaxPoolSize = _hotSize;
            hot.ConnectionStringBuilder.MinPoolSize = 0;
            _hot = hot.Build();
        }
    }

    /// <summary>How many hot connections there are at most.</summary>
    internal int HotSize => _hotSize;

    /// <summary>How many hot connections are open now.</summary>
    internal int HotInUse => Volatile.Read(ref _hotInUse);

    public async Task<NpgsqlConnection> OpenAsync(CancellationToken ct)
    {
        if (_hot is not null && TakeHotPlace())
        {
            var lease = new Lease(this);
            try
            {
                var connection = await _hot.OpenConnectionAsync(ct);
                // Closing (disposing, or the connection breaking) frees the place, once.
                connection.StateChange += lease.OnStateChange;
                return connection;
            }
            catch
            {
                lease.Release();
                throw;
            }
        }

        return await _rest.OpenConnectionAsync(ct);
    }

    /// <summary>Takes a hot place when one is free; the count never goes past the number of places, even for a moment.</summary>
    private bool TakeHotPlace()
    {
        var inUse = Volatile.Read(ref _hotInUse);
        while (inUse < _hotSize)
        {
            var seen = Interlocked.CompareExchange(ref _hotInUse, inUse + 1, inUse);
            if (seen == inUse)
            {
                return true;
            }

            inUse = seen;
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (_hot is not null)
        {
            await _hot.DisposeAsync();
        }

        await _rest.DisposeAsync();
    }

    private sealed class Lease(PostgresConnections owner)
    {
        private int _released;

        public void OnStateChange(object? sender, StateChangeEventArgs e)
        {
            if (e.CurrentState is ConnectionState.Closed or ConnectionState.Broken)
            {
                Release();
            }
        }

        public void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Interlocked.Decrement(ref owner._hotInUse);
            }
        }
    }
}
