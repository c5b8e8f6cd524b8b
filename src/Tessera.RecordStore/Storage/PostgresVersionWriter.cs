using Npgsql;
using NpgsqlTypes;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Resources;

namespace Tessera.RecordStore.Storage;

/// <summary>
/// Writes one version on PostgreSQL as a single batch of statements whose text never varies with the data:
/// index rows go in as arrays through <c>unnest</c>, so every statement is prepared once per connection and
/// the server plans nothing per write.
/// </summary>
internal static class PostgresVersionWriter
{
    // Positional parameters ($1, $2, ...): SQLite takes the same texts (see SqliteVersionWriter).
    internal const string InsertVersion =
        "INSERT INTO resource_version (resource_type, id, version, last_updated, deleted, method, patient_key, json) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

    internal const string InsertCurrent =
        "INSERT INTO resource (resource_type, id, version, last_updated, deleted, patient_key) VALUES ($1, $2, $3, $4, $5, $6)";

    internal const string UpdateCurrent =
        "UPDATE resource SET version = $3, last_updated = $4, deleted = $5, patient_key = $6 WHERE resource_type = $1 AND id = $2";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> IndexSql = new(StringComparer.Ordinal);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> ManyIndexSql = new(StringComparer.Ordinal);

    internal static readonly string[] DeleteIndex = [.. Schema.IndexTableNames.Select(t => $"DELETE FROM {t} WHERE resource_type = $1 AND id = $2")];

    public static async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, StoredVersion version, string? patientKey, IndexValues? index, bool isNew, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        Append(batch, version, patientKey, index, isNew);
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Adds the statements that write one version to a batch, to be sent with others in one round trip.</summary>
    public static void Append(NpgsqlBatch batch, StoredVersion version, string? patientKey, IndexValues? index, bool isNew)
    {
        AppendVersion(batch, version, patientKey, isNew);
        if (index is not null)
        {
            AppendIndex(batch, version.ResourceType, version.Id, patientKey, index);
        }
    }

    /// <summary>The version, the current row and (for a later version) the removal of the previous index rows; not the new index rows.</summary>
    public static void AppendVersion(NpgsqlBatch batch, StoredVersion version, string? patientKey, bool isNew)
    {
        var lu = version.LastUpdated.ToUnixTimeMilliseconds();
        var deleted = (short)(version.Deleted ? 1 : 0);

        var insert = Statement(batch, InsertVersion);
        Key(insert, version.ResourceType, version.Id);
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = version.Version });
        insert.Parameters.Add(new NpgsqlParameter<long> { TypedValue = lu });
        insert.Parameters.Add(new NpgsqlParameter<short> { TypedValue = deleted });
        insert.Parameters.Add(Text(version.Method));
        insert.Parameters.Add(Text(patientKey));
        insert.Parameters.Add(Text(version.Json));

        var current = Statement(batch, isNew ? InsertCurrent : UpdateCurrent);
        Key(current, version.ResourceType, version.Id);
        current.Parameters.Add(new NpgsqlParameter<long> { TypedValue = version.Version });
        current.Parameters.Add(new NpgsqlParameter<long> { TypedValue = lu });
        current.Parameters.Add(new NpgsqlParameter<short> { TypedValue = deleted });
        current.Parameters.Add(Text(patientKey));

        // A resource's first version has no index rows to replace.
        if (!isNew && version.Version != 1)
        {
            foreach (var sql in DeleteIndex)
            {
                Key(Statement(batch, sql), version.ResourceType, version.Id);
            }
        }
    }

    /// <summary>Replaces a resource's index rows, writing no version (reindexing).</summary>
    public static async Task ReplaceIndexAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string type, string id, string? patientKey, IndexValues index, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var sql in DeleteIndex)
        {
            Key(Statement(batch, sql), type, id);
        }

        AppendIndex(batch, type, id, patientKey, index);
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>One INSERT ... SELECT FROM unnest(arrays) per index table that has rows.</summary>
    private static void AppendIndex(NpgsqlBatch batch, string type, string id, string? patientKey, IndexValues index)
    {
        foreach (var table in IndexRows.Of(index).Where(t => t.Rows.Count > 0))
        {
            var sql = IndexSql.GetOrAdd(table.Name, _ =>
            {
                var arrays = string.Join(", ", table.Columns.Select((c, i) => $"${i + 4}::{c.SqlType}[]"));
                return $"INSERT INTO {table.Name} (resource_type, id, patient_key, {string.Join(", ", table.Columns.Select(c => c.Column))}) SELECT $1, $2, $3, u.* FROM unnest({arrays}) AS u";
            });
            var command = Statement(batch, sql);
            Key(command, type, id);
            command.Parameters.Add(Text(patientKey));
            AddColumns(command, table);
        }
    }

    /// <summary>
    /// One INSERT ... SELECT FROM unnest(arrays) for the rows of one index table of many resources: the key columns
    /// travel as arrays beside the values.
    /// </summary>
    public static void AppendIndexRows(NpgsqlBatch batch, IndexRows.Table table, List<(string Type, string Id, string? PatientKey)> keys)
    {
        var sql = ManyIndexSql.GetOrAdd(table.Name, _ =>
        {
            var arrays = string.Join(", ", table.Columns.Select((c, i) => $"${i + 4}::{c.SqlType}[]"));
            return $"INSERT INTO {table.Name} (resource_type, id, patient_key, {string.Join(", ", table.Columns.Select(c => c.Column))}) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], {arrays})";
        });
        var command = Statement(batch, sql);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. keys.Select(k => k.Type)] });
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. keys.Select(k => k.Id)] });
        command.Parameters.Add(new NpgsqlParameter<string?[]> { TypedValue = [.. keys.Select(k => k.PatientKey)] });
        AddColumns(command, table);
    }

    private static void AddColumns(NpgsqlBatchCommand command, IndexRows.Table table)
    {
        for (var c = 0; c < table.Columns.Length; c++)
        {
            var column = c;
            command.Parameters.Add(table.Columns[c].SqlType switch
            {
                "bigint" => new NpgsqlParameter<long[]> { TypedValue = [.. table.Rows.Select(r => (long)r[column]!)] },
                "double precision" => new NpgsqlParameter<double[]> { TypedValue = [.. table.Rows.Select(r => (double)r[column]!)] },
                _ => new NpgsqlParameter<string?[]> { TypedValue = [.. table.Rows.Select(r => (string?)r[column])] },
            });
        }
    }

    private static NpgsqlBatchCommand Statement(NpgsqlBatch batch, string sql)
    {
        var command = new NpgsqlBatchCommand(sql);
        batch.BatchCommands.Add(command);
        return command;
    }

    private static void Key(NpgsqlBatchCommand command, string type, string id)
    {
        command.Parameters.Add(Text(type));
        command.Parameters.Add(Text(id));
    }

    private static NpgsqlParameter Text(string? value) => new() { NpgsqlDbType = NpgsqlDbType.Text, Value = (object?)value ?? DBNull.Value };
}
