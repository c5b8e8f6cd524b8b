using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Bulk;

/// <summary>
/// Writes a run of prepared bundles in the caller's write transaction: on PostgreSQL new resources go in by binary
/// COPY (versions, current rows, then each index table), on SQLite by the store's own prepared statements; a
/// resource that exists already gets its next version through the normal version writer's statements.
/// </summary>
internal static class BulkWriter
{
    private const string CopyVersions = "COPY resource_version (resource_type, id, version, last_updated, deleted, method, patient_key, json) FROM STDIN (FORMAT BINARY)";
    private const string CopyCurrent = "COPY resource (resource_type, id, version, last_updated, deleted, patient_key) FROM STDIN (FORMAT BINARY)";

    public static async Task<List<(PreparedEntry Entry, bool Created)>> WriteAsync(FhirStore store, WriteScope scope, List<PreparedBundle> run, StageClock stages, CancellationToken ct)
    {
        var entries = run.SelectMany(b => b.Entries!).ToList();
        var existing = scope.Connection is NpgsqlConnection
            ? await ExistingPostgresAsync(scope, entries, ct)
            : ExistingSqlite(scope, entries);
        var result = new List<(PreparedEntry, bool)>(entries.Count);
        var written = new List<WrittenResource>(entries.Count);
        foreach (var entry in entries)
        {
            var current = existing.GetValueOrDefault((entry.Type, entry.Id));
            if (current is not null)
            {
                // Rare in a bulk load (loading the same region twice): the next version, its JSON saying so.
                entry.Version = current.Version + 1;
                entry.Resource.Meta!.VersionId = entry.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
                entry.Json = FhirSerialization.ToJson(entry.Resource);
            }

            result.Add((entry, current is null || current.Version == 0 || current.Deleted));
            written.Add(new WrittenResource(entry.Type, entry.Id, entry.Resource, current is null));
        }

        if (scope.Connection is NpgsqlConnection postgres)
        {
            await WritePostgresAsync(postgres, (NpgsqlTransaction)scope.Transaction, entries, existing, ct);
        }
        else
        {
            foreach (var entry in entries)
            {
                SqliteVersionWriter.Write((SqliteConnection)scope.Connection, (SqliteTransaction)scope.Transaction, Version(entry), entry.PatientKey, entry.Index, !existing.ContainsKey((entry.Type, entry.Id)));
            }
        }

        var observing = Stopwatch.GetTimestamp();
        await store.NotifyWrittenManyAsync(scope, written, ct);
        stages.Add(ref stages.Observing, Stopwatch.GetElapsedTime(observing));
        return result;
    }

    private static StoredVersion Version(PreparedEntry e) => new(e.Type, e.Id, e.Version, e.LastUpdated, false, e.Method, e.Json);

    /// <summary>The current rows of the run's resources that exist, locked until the transaction ends.</summary>
    private static async Task<Dictionary<(string, string), CurrentRow>> ExistingPostgresAsync(WriteScope scope, List<PreparedEntry> entries, CancellationToken ct)
    {
        var found = new Dictionary<(string, string), CurrentRow>();
        await using var cmd = new NpgsqlCommand(
            "SELECT r.resource_type, r.id, r.version, r.deleted, r.patient_key FROM resource r JOIN unnest($1::text[], $2::text[]) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i ORDER BY r.resource_type, r.id FOR UPDATE OF r",
            (NpgsqlConnection)scope.Connection, (NpgsqlTransaction)scope.Transaction);
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. entries.Select(e => e.Type)] });
        cmd.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = [.. entries.Select(e => e.Id)] });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            found[(reader.GetString(0), reader.GetString(1))] = new CurrentRow(reader.GetInt64(2), reader.GetInt16(3) != 0, reader.IsDBNull(4) ? null : reader.GetString(4));
        }

        return found;
    }

    private static Dictionary<(string, string), CurrentRow> ExistingSqlite(WriteScope scope, List<PreparedEntry> entries)
    {
        var found = new Dictionary<(string, string), CurrentRow>();
        using var cmd = (SqliteCommand)scope.Connection.CreateCommand();
        cmd.Transaction = (SqliteTransaction)scope.Transaction;
        cmd.CommandText = "SELECT version, deleted, patient_key FROM resource WHERE resource_type = $1 AND id = $2";
        var type = cmd.Parameters.Add("$1", SqliteType.Text);
        var id = cmd.Parameters.Add("$2", SqliteType.Text);
        cmd.Prepare();
        foreach (var entry in entries)
        {
            type.Value = entry.Type;
            id.Value = entry.Id;
            using var reader = cmd.ExecuteReader();
            if (reader.Read())
            {
                found[(entry.Type, entry.Id)] = new CurrentRow(reader.GetInt64(0), reader.GetInt32(1) != 0, reader.IsDBNull(2) ? null : reader.GetString(2));
            }
        }

        return found;
    }

    private static async Task WritePostgresAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, List<PreparedEntry> entries, Dictionary<(string, string), CurrentRow> existing, CancellationToken ct)
    {
        var fresh = entries.Where(e => !existing.ContainsKey((e.Type, e.Id))).ToList();
        if (fresh.Count > 0)
        {
            await using (var versions = await connection.BeginBinaryImportAsync(CopyVersions, ct))
            {
                foreach (var e in fresh)
                {
                    StartVersionRow(versions, e);
                    versions.Write(e.Method, NpgsqlDbType.Text);
                    WriteText(versions, e.PatientKey);
                    versions.Write(e.Json, NpgsqlDbType.Text);
                }

                await versions.CompleteAsync(ct);
            }

            await using (var current = await connection.BeginBinaryImportAsync(CopyCurrent, ct))
            {
                foreach (var e in fresh)
                {
                    StartVersionRow(current, e);
                    WriteText(current, e.PatientKey);
                }

                await current.CompleteAsync(ct);
            }

            foreach (var table in Schema.IndexTableNames)
            {
                await CopyIndexAsync(connection, table, fresh, ct);
            }
        }

        var updates = entries.Where(e => existing.ContainsKey((e.Type, e.Id))).ToList();
        if (updates.Count > 0)
        {
            await using var batch = new NpgsqlBatch(connection, transaction);
            foreach (var e in updates)
            {
                PostgresVersionWriter.Append(batch, Version(e), e.PatientKey, e.Index, isNew: false);
            }

            await batch.ExecuteNonQueryAsync(ct);
        }
    }

    private static async Task CopyIndexAsync(NpgsqlConnection connection, string table, List<PreparedEntry> entries, CancellationToken ct)
    {
        IndexRows.Table? shape = null;
        foreach (var e in entries)
        {
            shape ??= e.Rows.FirstOrDefault(t => t.Name == table);
        }

        if (shape is null)
        {
            return;
        }

        await using var writer = await connection.BeginBinaryImportAsync(
            $"COPY {table} (resource_type, id, patient_key, {string.Join(", ", shape.Columns.Select(c => c.Column))}) FROM STDIN (FORMAT BINARY)", ct);
        foreach (var e in entries)
        {
            foreach (var rows in e.Rows)
            {
                if (rows.Name != table)
                {
                    continue;
                }

                foreach (var row in rows.Rows)
                {
                    writer.StartRow();
                    writer.Write(e.Type, NpgsqlDbType.Text);
                    writer.Write(e.Id, NpgsqlDbType.Text);
                    WriteText(writer, e.PatientKey);
                    for (var c = 0; c < row.Length; c++)
                    {
                        switch (row[c])
                        {
                            case null:
                                writer.WriteNull();
                                break;
                            case long l:
                                writer.Write(l, NpgsqlDbType.Bigint);
                                break;
                            case double d:
                                writer.Write(d, NpgsqlDbType.Double);
                                break;
                            case var other:
                                writer.Write(Convert.ToString(other, System.Globalization.CultureInfo.InvariantCulture)!, NpgsqlDbType.Text);
                                break;
                        }
                    }
                }
            }
        }

        await writer.CompleteAsync(ct);
    }

    /// <summary>Starts a row of resource_version or resource with the columns they share: type, id, version, time, not deleted.</summary>
    private static void StartVersionRow(NpgsqlBinaryImporter writer, PreparedEntry e)
    {
        writer.StartRow();
        writer.Write(e.Type, NpgsqlDbType.Text);
        writer.Write(e.Id, NpgsqlDbType.Text);
        writer.Write(e.Version, NpgsqlDbType.Bigint);
        writer.Write(e.LastUpdated.ToUnixTimeMilliseconds(), NpgsqlDbType.Bigint);
        writer.Write((short)0, NpgsqlDbType.Smallint);
    }

    private static void WriteText(NpgsqlBinaryImporter writer, string? value)
    {
        if (value is null)
        {
            writer.WriteNull();
        }
        else
        {
            writer.Write(value, NpgsqlDbType.Text);
        }
    }
}
