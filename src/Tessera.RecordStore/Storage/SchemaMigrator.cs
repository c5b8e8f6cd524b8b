using System.Data.Common;
using Npgsql;

namespace Tessera.RecordStore.Storage;

/// <summary>Creates and upgrades the schema; the application owns it, so no separate tool is needed.</summary>
internal static class SchemaMigrator
{
    public static async Task MigrateAsync(SqlDialect dialect, CancellationToken ct)
    {
        await using var scope = await BeginLockedAsync(dialect, ct);
        await Db.ExecuteAsync(scope, "CREATE TABLE IF NOT EXISTS tessera_schema (version INTEGER NOT NULL)", ct);
        var current = await VersionAsync(scope, "SELECT COALESCE(MAX(version), 0) FROM tessera_schema", "database schema", dialect.MigrationCount, ct);

        for (var v = current; v < dialect.MigrationCount; v++)
        {
            foreach (var script in dialect.Migration(v))
            {
                await Db.ExecuteAsync(scope, script, ct);
            }

            await Db.ExecuteAsync(scope, $"INSERT INTO tessera_schema (version) VALUES ({v + 1})", ct);
        }

        // A bulk load into an empty store builds the index tables' indexes at its end; one that stopped before
        // (killed, machine down) leaves them missing, and they are built here. Nothing is done when they exist.
        await BuildIndexTableIndexesAsync(scope, dialect.Kind, ct);

        await scope.CommitAsync(ct);
    }

    /// <summary>
    /// Builds the index tables' indexes that are missing (at most <paramref name="atMost"/> of them), each by one
    /// sorted pass over its table, however long that takes. Existing ones are left alone without locking their tables,
    /// so opening a store never waits on writers. Returns how many it built.
    /// </summary>
    public static async Task<int> BuildIndexTableIndexesAsync(WriteScope scope, DatabaseKind kind, CancellationToken ct, int atMost = int.MaxValue)
    {
        var existing = new HashSet<string>(StringComparer.Ordinal);
        await using (var list = Db.Command(scope.Connection, scope.Transaction, kind == DatabaseKind.Postgres
            ? "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            : "SELECT name FROM sqlite_master WHERE type = 'index'"))
        await using (var reader = await list.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                existing.Add(reader.GetString(0));
            }
        }

        var missing = Schema.IndexTableIndexes(kind).Where(i => !existing.Contains(i.Name)).Take(atMost).ToList();
        if (missing.Count > 0 && kind == DatabaseKind.Postgres)
        {
            // Below this the sort of a large table spills to disk.
            await Db.ExecuteAsync(scope, "SET LOCAL maintenance_work_mem = '1GB'", ct);
        }

        foreach (var (_, create) in missing)
        {
            await using var cmd = Db.Command(scope.Connection, scope.Transaction, create);
            cmd.CommandTimeout = 0;
            await cmd.ExecuteNonQueryAsync(ct);
        }

        return missing.Count;
    }

    /// <summary>Creates or upgrades a part's own tables (see FhirStore.MigratePartAsync), one statement text per step.</summary>
    public static async Task MigratePartAsync(SqlDialect dialect, string part, IReadOnlyList<string> steps, CancellationToken ct)
    {
        await using var scope = await BeginLockedAsync(dialect, ct);
        await Db.ExecuteAsync(scope, "CREATE TABLE IF NOT EXISTS tessera_part_schema (part TEXT PRIMARY KEY, version INTEGER NOT NULL)", ct);
        var current = await VersionAsync(scope, "SELECT COALESCE(MAX(version), 0) FROM tessera_part_schema WHERE part = @part", $"database's {part} schema", steps.Count, ct, ("@part", part));
        for (var v = current; v < steps.Count; v++)
        {
            await Db.ExecuteAsync(scope, steps[v], ct);
        }

        if (steps.Count > current)
        {
            await Db.ExecuteAsync(scope, current == 0 ? "INSERT INTO tessera_part_schema (part, version) VALUES (@part, @v)" : "UPDATE tessera_part_schema SET version = @v WHERE part = @part", ct, ("@part", part), ("@v", steps.Count));
        }

        await scope.CommitAsync(ct);
    }

    /// <summary>A write transaction holding the schema lock: several nodes may start at once, and one of them migrates.</summary>
    private static async Task<WriteScope> BeginLockedAsync(SqlDialect dialect, CancellationToken ct)
    {
        var scope = await dialect.BeginWriteAsync(ct);
        try
        {
            await dialect.LockKeyAsync(scope.Connection, scope.Transaction, "tessera-schema", ct);
            return scope;
        }
        catch
        {
            await scope.DisposeAsync();
            throw;
        }
    }

    /// <summary>The version the database is at, refusing one newer than this code knows.</summary>
    private static async Task<int> VersionAsync(WriteScope scope, string sql, string what, int known, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        var current = Convert.ToInt32(await Db.ScalarAsync(scope, sql, ct, parameters) ?? 0, System.Globalization.CultureInfo.InvariantCulture);
        if (current > known)
        {
            throw new InvalidOperationException($"The {what} is version {current}, newer than this Tessera knows ({known}). Upgrade Tessera before using this database.");
        }

        return current;
    }
}

/// <summary>Small ADO.NET helpers, so queries read as SQL with named parameters.</summary>
internal static class Db
{
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        if (parameters.Length > 0 && connection is NpgsqlConnection && Positional(sql, parameters) is { } positional)
        {
            cmd.CommandText = positional.Text;
            cmd.Parameters.AddRange(positional.Values);
            return cmd;
        }

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

    /// <summary>
    /// Several statements sent to PostgreSQL in one round trip, each with its parameters (bound as <see cref="Command"/>
    /// binds them); their results are read in order.
    /// </summary>
    public static NpgsqlBatch Batch(NpgsqlConnection connection, DbTransaction? transaction, params (string Sql, (string Name, object? Value)[] Parameters)[] statements)
    {
        var batch = connection.CreateBatch();
        batch.Transaction = transaction as NpgsqlTransaction;
        foreach (var (sql, parameters) in statements)
        {
            var command = batch.CreateBatchCommand();
            if (parameters.Length > 0 && Positional(sql, parameters) is { } positional)
            {
                command.CommandText = positional.Text;
                command.Parameters.AddRange(positional.Values);
            }
            else
            {
                command.CommandText = sql;
                foreach (var (name, value) in parameters)
                {
                    command.Parameters.Add(new NpgsqlParameter(name, value ?? DBNull.Value));
                }
            }

            batch.BatchCommands.Add(command);
        }

        return batch;
    }

    /// <summary>
    /// The statement with its parameters by position (see <see cref="PositionalSql"/>); null when it cannot take them
    /// so, or a parameter its text names was not given (the named form then reports it).
    /// </summary>
    private static (string Text, NpgsqlParameter[] Values)? Positional(string sql, (string Name, object? Value)[] parameters)
    {
        if (PositionalSql.Of(sql) is not { } positional)
        {
            return null;
        }

        var values = new NpgsqlParameter[positional.Names.Length];
        var bound = 0;
        foreach (var (name, value) in parameters)
        {
            var i = positional.PositionOf(name);
            if (i >= 0 && values[i] is null)
            {
                values[i] = new NpgsqlParameter { Value = value ?? DBNull.Value };
                bound++;
            }
        }

        return bound < values.Length ? null : (positional.Text, values);
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
