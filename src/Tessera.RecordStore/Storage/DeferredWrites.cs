using Npgsql;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Resources;

namespace Tessera.RecordStore.Storage;

/// <summary>
/// Version writes held back and sent together: a transaction bundle's creates and updates reach PostgreSQL
/// in a few round trips instead of one per resource. Whoever reads through the scope flushes first.
/// </summary>
internal sealed class DeferredWrites(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
{
    // Large batches are split so one message stays a reasonable size.
    private const int MaxStatements = 2000;

    private readonly List<int> _owners = [];
    private NpgsqlBatch _batch = new(connection, transaction);

    /// <summary>The bundle entry whose writes are being added (for error messages).</summary>
    public int Owner { get; set; }

    public async Task AddAsync(StoredVersion version, string? patientKey, IndexValues? index, bool isNew, CancellationToken ct)
    {
        var before = _batch.BatchCommands.Count;
        PostgresVersionWriter.Append(_batch, version, patientKey, index, isNew);
        for (var i = before; i < _batch.BatchCommands.Count; i++)
        {
            _owners.Add(Owner);
        }

        if (_batch.BatchCommands.Count >= MaxStatements)
        {
            await FlushAsync(ct);
        }
    }

    /// <summary>Sends what is held; a failure names the entry whose statement failed.</summary>
    public async Task FlushAsync(CancellationToken ct)
    {
        if (_batch.BatchCommands.Count == 0)
        {
            return;
        }

        try
        {
            await _batch.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.BatchCommand is { } failed)
        {
            throw new DeferredWriteException(_owners[_batch.BatchCommands.IndexOf(failed)], e);
        }
        finally
        {
            await _batch.DisposeAsync();
            _batch = new NpgsqlBatch(connection, transaction);
            _owners.Clear();
        }
    }

    public ValueTask DisposeAsync() => _batch.DisposeAsync();
}

/// <summary>A held-back write failed; <see cref="Owner"/> is the bundle entry it belonged to.</summary>
internal sealed class DeferredWriteException(int owner, Exception inner) : Exception(inner.Message, inner)
{
    public int Owner { get; } = owner;
}
