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
    private const int MaxIndexRows = 50_000;

    private readonly List<int> _owners = [];
    private NpgsqlBatch _batch = new(connection, transaction);

    /// <summary>The bundle entry whose writes are being added (for error messages).</summary>
    public int Owner { get; set; }

    // Index rows of the held versions, per table: sent as one INSERT per table when flushed, after the statements
    // (PostgreSQL spends far less on one statement of a thousand rows than on a thousand statements of one row each).
    private readonly Dictionary<string, (IndexRows.Table Rows, List<(string Type, string Id, string? PatientKey)> Keys)> _indexRows = new(StringComparer.Ordinal);
    private readonly HashSet<(string Type, string Id)> _held = [];
    private int _heldRows;

    public async Task AddAsync(StoredVersion version, string? patientKey, IndexValues? index, bool isNew, CancellationToken ct)
    {
        // A resource written twice before a flush: the second version's removal of index rows must follow the first's
        // insertion of them, which waits for the flush.
        if (!_held.Add((version.ResourceType, version.Id)))
        {
            await FlushAsync(ct);
            _held.Add((version.ResourceType, version.Id));
        }

        var before = _batch.BatchCommands.Count;
        PostgresVersionWriter.AppendVersion(_batch, version, patientKey, isNew);
        for (var i = before; i < _batch.BatchCommands.Count; i++)
        {
            _owners.Add(Owner);
        }

        foreach (var table in index is null ? [] : IndexRows.Of(index))
        {
            if (table.Rows.Count == 0)
            {
                continue;
            }

            if (!_indexRows.TryGetValue(table.Name, out var held))
            {
                held = _indexRows[table.Name] = (table with { Rows = [] }, []);
            }

            held.Rows.Rows.AddRange(table.Rows);
            held.Keys.AddRange(Enumerable.Repeat((version.ResourceType, version.Id, patientKey), table.Rows.Count));
            _heldRows += table.Rows.Count;
        }

        if (_batch.BatchCommands.Count >= MaxStatements || _heldRows >= MaxIndexRows)
        {
            await FlushAsync(ct);
        }
    }

    /// <summary>Adds a statement of the caller's (parameters named as in the SQL, "@name"), sent in order with the held writes.</summary>
    public async Task AddStatementAsync(string sql, IReadOnlyList<(string Name, object? Value)> parameters, CancellationToken ct)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter(name, value ?? DBNull.Value));
        }

        _batch.BatchCommands.Add(command);
        _owners.Add(Owner);
        if (_batch.BatchCommands.Count >= MaxStatements)
        {
            await FlushAsync(ct);
        }
    }

    /// <summary>Sends what is held; a failure names the entry whose statement failed.</summary>
    public Task FlushAsync(CancellationToken ct) => SendAsync(batch => batch.ExecuteNonQueryAsync(ct));

    /// <summary>
    /// Sends what is held followed by COMMIT, in one batch; false (nothing sent) when nothing is held, and the caller
    /// commits as usual. PostgreSQL skips the COMMIT when a statement before it fails, and the transaction rolls back.
    /// </summary>
    public async Task<bool> FlushAndCommitAsync(CancellationToken ct)
    {
        if (_batch.BatchCommands.Count == 0 && _indexRows.Count == 0)
        {
            return false;
        }

        await SendAsync(
            batch =>
            {
                batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
                return batch.ExecuteNonQueryAsync(ct);
            },
            last: true);
        return true;
    }

    /// <summary>As <see cref="FlushAsync"/>, for a caller that cannot wait asynchronously (a command being built).</summary>
    public void Flush() => SendAsync(batch => Task.FromResult(batch.ExecuteNonQuery())).GetAwaiter().GetResult();

    private async Task SendAsync(Func<NpgsqlBatch, Task<int>> execute, bool last = false)
    {
        foreach (var (rows, keys) in _indexRows.Values)
        {
            PostgresVersionWriter.AppendIndexRows(_batch, rows, keys);
            _owners.Add(Owner);
        }

        _indexRows.Clear();
        _held.Clear();
        _heldRows = 0;
        if (_batch.BatchCommands.Count == 0)
        {
            return;
        }

        try
        {
            await execute(_batch);
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UniqueViolation && e.BatchCommand is { } failed)
        {
            throw new DeferredWriteException(_owners[_batch.BatchCommands.IndexOf(failed)], e);
        }
        finally
        {
            await _batch.DisposeAsync();
            // After the COMMIT the transaction is over and nothing more is sent through this scope.
            _batch = last ? new NpgsqlBatch(connection) : new NpgsqlBatch(connection, transaction);
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
