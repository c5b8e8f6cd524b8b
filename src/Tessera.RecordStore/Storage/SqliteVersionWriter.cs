using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Resources;

namespace Tessera.RecordStore.Storage;

/// <summary>
/// Writes one version on SQLite with single-row statements whose text never varies, each prepared once per write
/// transaction and run again with new values. SQLite is in the process, so a statement costs no round trip, while
/// parsing one large generated statement and binding hundreds of named parameters costs more than the writing.
/// The texts are the PostgreSQL writer's: SQLite reads <c>$1</c> as a parameter named "$1".
/// </summary>
internal static class SqliteVersionWriter
{
    private static readonly ConditionalWeakTable<SqliteTransaction, Statements> Prepared = [];

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> IndexSql = new(StringComparer.Ordinal);

    public static void Write(SqliteConnection connection, SqliteTransaction transaction, StoredVersion version, string? patientKey, IndexValues? index, bool isNew)
    {
        var statements = Prepared.GetValue(transaction, t => new Statements(connection, t));
        var (type, id) = (version.ResourceType, version.Id);
        var lu = version.LastUpdated.ToUnixTimeMilliseconds();
        var deleted = version.Deleted ? 1 : 0;
        statements.Run(PostgresVersionWriter.InsertVersion, type, id, version.Version, lu, deleted, version.Method, patientKey, version.Json);
        statements.Run(isNew ? PostgresVersionWriter.InsertCurrent : PostgresVersionWriter.UpdateCurrent, type, id, version.Version, lu, deleted, patientKey);

        // A resource's first version has no index rows to replace.
        if (!isNew && version.Version != 1)
        {
            foreach (var sql in PostgresVersionWriter.DeleteIndex)
            {
                statements.Run(sql, type, id);
            }
        }

        if (index is not null)
        {
            AddIndex(statements, type, id, patientKey, index);
        }
    }

    /// <summary>Replaces a resource's index rows, writing no version (reindexing).</summary>
    public static void ReplaceIndex(SqliteConnection connection, SqliteTransaction transaction, string type, string id, string? patientKey, IndexValues index)
    {
        var statements = Prepared.GetValue(transaction, t => new Statements(connection, t));
        foreach (var sql in PostgresVersionWriter.DeleteIndex)
        {
            statements.Run(sql, type, id);
        }

        AddIndex(statements, type, id, patientKey, index);
    }

    /// <summary>One prepared INSERT per index table, run once per distinct row.</summary>
    private static void AddIndex(Statements statements, string type, string id, string? patientKey, IndexValues index)
    {
        foreach (var table in IndexRows.Of(index).Where(t => t.Rows.Count > 0))
        {
            var sql = IndexSql.GetOrAdd(table.Name, _ =>
                $"INSERT INTO {table.Name} (resource_type, id, patient_key, {string.Join(", ", table.Columns.Select(c => c.Column))}) VALUES ({string.Join(", ", Enumerable.Range(1, table.Columns.Length + 3).Select(i => $"${i}"))})");
            foreach (var row in table.Rows)
            {
                statements.Run(sql, [type, id, patientKey, .. row]);
            }
        }
    }

    /// <summary>The prepared statements of one write transaction, by text.</summary>
    private sealed class Statements(SqliteConnection connection, SqliteTransaction transaction)
    {
        private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

        public void Run(string sql, params object?[] values)
        {
            if (!_commands.TryGetValue(sql, out var command))
            {
                command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = sql;
                for (var i = 0; i < values.Length; i++)
                {
                    command.Parameters.Add(new SqliteParameter($"${i + 1}", null));
                }

                command.Prepare();
                _commands[sql] = command;
            }

            for (var i = 0; i < values.Length; i++)
            {
                command.Parameters[i].Value = values[i] ?? DBNull.Value;
            }

            command.ExecuteNonQuery();
        }
    }
}
