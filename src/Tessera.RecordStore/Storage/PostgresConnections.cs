using System.Data;
using Npgsql;

namespace Tessera.RecordStore.Storage;

/// <summary>
/// Connections to PostgreSQL from a few "hot" places, as many as this machine has cores, each holding one connection,
/// and from the configured pool for whatever is asked for beyond them.
/// <para>
/// Npgsql's pool hands out its idle connections oldest first. Once it holds more than one, one request at a time goes
/// round all of them, each time to another PostgreSQL backend that slept longest — cold caches and, on a virtual
/// machine, the costliest wake-up. Measured on the 2-core machine Tessera is benchmarked on, one client reading by id
/// ran 9,200–11,000 queries a second over a pool of one or two connections and 6,300–6,400 over sixteen; and even two
/// connections taken in turn (as soon as a background writer had once needed a second) cost each read about 30 µs of
/// PostgreSQL CPU more than one. So an open takes the first free place, always in the same order: a quiet server
/// works on one backend, a busier one on as many as it keeps busy, and beyond the places on the pool, whose
/// backends are all busy anyway. Background work (see <see cref="FhirStore.InBackground"/>) takes no place: an audit
/// writer's commit holding the first place would send the requests of that moment to a cold backend.
/// </para>
/// </summary>
internal sealed class PostgresConnections : IAsyncDisposable
{
    /// <summary>One pool of one connection for each hot place.</summary>
    private readonly NpgsqlDataSource[] _places;
    private readonly NpgsqlDataSource _rest;

    /// <summary>1 where a place is taken.</summary>
    private readonly int[] _taken;

    public PostgresConnections(NpgsqlDataSourceBuilder builder, int hotSize)
    {
        var settings = builder.ConnectionStringBuilder;
        var size = settings.Pooling ? Math.Clamp(hotSize, 0, settings.MaxPoolSize) : 0;
        _rest = builder.Build();
        _places = new NpgsqlDataSource[size];
        _taken = new int[size];
        for (var i = 0; i < size; i++)
        {
            // The same settings with a pool of one: an open of a place taken is never kept waiting.
            var place = new NpgsqlDataSourceBuilder(settings.ConnectionString);
            place.ConnectionStringBuilder.MaxPoolSize = 1;
            place.ConnectionStringBuilder.MinPoolSize = 0;
            _places[i] = place.Build();
        }
    }

    /// <summary>Whether the work on this async flow is background work, which takes no hot place.</summary>
    internal static readonly AsyncLocal<bool> Background = new();

    /// <summary>How many hot connections there are at most.</summary>
    internal int HotSize => _places.Length;

    /// <summary>How many hot connections are open now.</summary>
    internal int HotInUse => _taken.Sum();

    public async Task<NpgsqlConnection> OpenAsync(CancellationToken ct)
    {
        if (!Background.Value && TakePlace() is { } place)
        {
            var lease = new Lease(this, place);
            try
            {
                var connection = await _places[place].OpenConnectionAsync(ct);
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

    /// <summary>Takes the first free place, if any is free.</summary>
    private int? TakePlace()
    {
        for (var i = 0; i < _taken.Length; i++)
        {
            if (Volatile.Read(ref _taken[i]) == 0 && Interlocked.CompareExchange(ref _taken[i], 1, 0) == 0)
            {
                return i;
            }
        }

        return null;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var place in _places)
        {
            await place.DisposeAsync();
        }

        await _rest.DisposeAsync();
    }

    private sealed class Lease(PostgresConnections owner, int place)
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
                Volatile.Write(ref owner._taken[place], 0);
            }
        }
    }
}
