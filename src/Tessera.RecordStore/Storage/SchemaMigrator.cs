using System.Data.Common;

namespace Tessera.RecordStore.Storage;

/// <summary>Creates and upgrades the schema; the application owns it, so no separate tool is needed.</summary>
internal static class SchemaMigrator
{
    public static async Task MigrateAsync(SqlDialect dialect, CancellationToken ct)
    {
        await using var scope = await dialect.BeginWriteAsync(ct);
        // Several nodes may start at once against one database: the lock makes one of them migrate.
        await dialect.LockKeyAsync(scope.Connection, scope.Transaction, "tessera-schema", ct);
        await Db.ExecuteAsync(scope, "CREATE TABLE IF NOT EXISTS tessera_schema (version INTEGER NOT NULL)", ct);
        var current = Convert.ToInt32(await Db.ScalarAsync(scope, "SELECT COALESCE(MAX(version), 0) FROM tessera_schema", ct) ?? 0, System.Globalization.CultureInfo.InvariantCulture);
        if (current > dialect.MigrationCount)
        {
            throw new InvalidOperationException($"The database schema is version {current}, newer than this Tessera knows ({dialect.MigrationCount}). Upgrade Tessera before using this database.");
        }

        for (var v = current; v < dialect.MigrationCount; v++)
        {
            foreach (var script in dialect.Migration(v))
            {
                await Db.ExecuteAsync(scope, script, ct);
            }

            await Db.ExecuteAsync(scope, $"INSERT INTO tessera_schema (version) VALUES ({v + 1})", ct);
        }

        await scope.CommitAsync(ct);
    }
}

/// <summary>Small ADO.NET helpers, so queries read as SQL with named parameters.</summary>
internal static class Db
{
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            cmd.Parameters.Add(p);
        }

        return cmd;
    }

    public static async Task<int> ExecuteAsync(WriteScope scope, string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var cmd = Command(scope.Connection, scope.Transaction, sql, parameters);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    public static async Task<object?> ScalarAsync(WriteScope scope, string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var cmd = Command(scope.Connection, scope.Transaction, sql, parameters);
        var value = await cmd.ExecuteScalarAsync(ct);
        return value is DBNull ? null : value;
    }
}
