using System.Data.Common;
using System.Runtime.CompilerServices;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Resources;

/// <summary>
/// A stored version of a resource; <see cref="Json"/> is null for a deletion. <see cref="PatientKey"/> is the patient
/// whose compartment the version is in, as written with it (null outside every patient's compartment, and for a
/// version not read from the store).
/// </summary>
internal sealed record StoredVersion(string ResourceType, string Id, long Version, DateTimeOffset LastUpdated, bool Deleted, string Method, string? Json, long Seq = 0, string? PatientKey = null);

/// <summary>The current-version row of a resource, read (and on PostgreSQL locked) before writing the next.</summary>
internal sealed record CurrentRow(long Version, bool Deleted, string? PatientKey);

/// <summary>What a bundle learnt of an update's target before running it: its locked current row, or that the id was claimed.</summary>
internal sealed record PreparedTarget(CurrentRow? Current, bool Claimed);

/// <summary>Rows of the resource and version tables and the search index, in SQL shared by both dialects.</summary>
internal sealed class ResourceRepository(SqlDialect dialect)
{
    public SqlDialect Dialect => dialect;

    internal const string VersionColumns = "v.resource_type, v.id, v.version, v.last_updated, v.deleted, v.method, v.json, v.seq, v.patient_key";

    /// <summary>How many columns <see cref="VersionColumns"/> has: whatever a statement selects after them starts here.</summary>
    internal const int VersionColumnCount = 9;

    public async Task<StoredVersion?> ReadCurrentAsync(DbConnection connection, DbTransaction? transaction, string type, string id, CancellationToken ct) =>
        (await ReadCurrentAsync(connection, transaction, type, id, null, ct)).Stored;

    /// <summary>The current version and, in the same query, whether <paramref name="filter"/> lets its row through (always, without one).</summary>
    public async Task<(StoredVersion? Stored, bool Visible)> ReadCurrentAsync(DbConnection connection, DbTransaction? transaction, string type, string id, AccessFilter? filter, CancellationToken ct)
    {
        if (transaction is null && type == "Patient" && filter?.KeptForPatient is { } kept)
        {
            // A Patient's row is its own patient's (its patient key is its id): the filter settled for that patient on
            // the answers the policy keeps, and when that decides every row outright the read is the plain one. When
            // it keeps none, the patient's tests go ahead of the plain read in the same round trip, and their answers,
            // kept as they arrive, settle the filter.
            var rows = new PatientRows(connection, null, id, type);
            var settled = await kept(rows, ct);
            StoredVersion? plain = null;
            if (settled is null && rows.Deferred is { } tests)
            {
                await using (var read = await DeferredTests.ReadAsync(connection, null, tests, $"SELECT {VersionColumns}{ReadCurrentFrom}", [("t", type), ("id", id)], ct))
                {
                    plain = read is not null && await read.Reader.ReadAsync(ct) ? ReadVersion(read.Reader) : null;
                }

                if (plain is null)
                {
                    return (null, false);
                }

                settled = await kept(new PatientRows(connection, null, id, type), ct);
            }

            if (settled is not null)
            {
                filter = settled;
                if (settled.Verdict is { } verdict)
                {
                    return (plain ?? (await ReadCurrentAsync(connection, null, type, id, null, ct)).Stored, verdict);
                }
            }
        }

        if (filter?.AssumedFor("r", type) is { } assumed)
        {
            var read = await ReadAssumingAsync(connection, transaction, ReadCurrentAssumed.GetValue(assumed, static a => $"SELECT {VersionColumns}, {Judged(a)}{ReadCurrentFrom}"), [("t", type), ("id", id)], assumed, filter, ct);
            if (read is { } answer)
            {
                return answer;
            }
        }

        await using var cmd = Db.Command(connection, transaction,
            filter is null ? $"SELECT {VersionColumns}{ReadCurrentFrom}" : ReadCurrentFiltered.GetValue(filter.For("r", type), static f => $"SELECT {VersionColumns}, CASE WHEN {f} THEN 1 ELSE 0 END{ReadCurrentFrom}"),
            [("t", type), ("id", id), .. filter?.Parameters ?? []]);
        return await ReadVisibleAsync(cmd, filter, ct);
    }

    /// <summary>A version and whether <paramref name="filter"/> lets that version's row through (always, without one), as history decides it.</summary>
    public async Task<(StoredVersion? Stored, bool Visible)> ReadVersionAsync(DbConnection connection, DbTransaction? transaction, string type, string id, long version, AccessFilter? filter, CancellationToken ct)
    {
        if (filter?.AssumedFor("v", type) is { } assumed)
        {
            var read = await ReadAssumingAsync(connection, transaction, ReadVersionAssumed.GetValue(assumed, static a => $"SELECT {VersionColumns}, {Judged(a)}{ReadVersionFrom}"), [("t", type), ("id", id), ("v", version)], assumed, filter, ct);
            if (read is { } answer)
            {
                return answer;
            }
        }

        await using var cmd = Db.Command(connection, transaction,
            filter is null ? $"SELECT {VersionColumns}{ReadVersionFrom}" : ReadVersionFiltered.GetValue(filter.For("v", type), static f => $"SELECT {VersionColumns}, CASE WHEN {f} THEN 1 ELSE 0 END{ReadVersionFrom}"),
            [("t", type), ("id", id), ("v", version), .. filter?.Parameters ?? []]);
        return await ReadVisibleAsync(cmd, filter, ct);
    }

    private const string ReadCurrentFrom = " FROM resource r JOIN resource_version v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version = r.version WHERE r.resource_type = @t AND r.id = @id";

    private const string ReadVersionFrom = " FROM resource_version v WHERE v.resource_type = @t AND v.id = @id AND v.version = @v";

    /// <summary>
    /// The filtered reads' statements, one per filter text (which <see cref="AccessFilter.For"/> hands out again), kept
    /// as long as the text is: a read's statement with a caller's filter is a few kilobytes, the same on every request
    /// of that caller.
    /// </summary>
    private static readonly ConditionalWeakTable<string, string> ReadCurrentFiltered = [];

    private static readonly ConditionalWeakTable<string, string> ReadVersionFiltered = [];

    private static readonly ConditionalWeakTable<FilterAssumption, string> ReadCurrentAssumed = [];

    private static readonly ConditionalWeakTable<FilterAssumption, string> ReadVersionAssumed = [];

    /// <summary>Whether the assumed predicate lets the row through, and whether the guard holds (the assumption may not be relied on).</summary>
    private static string Judged(FilterAssumption a) => $"CASE WHEN {a.Predicate} THEN 1 ELSE 0 END, CASE WHEN {a.Guard} THEN 1 ELSE 0 END";

    /// <summary>
    /// A read under the filter's assumption (see <see cref="FilterAssumption"/>): the row and its verdict, or null when
    /// the assumption cannot settle it (the guard holds, or the row is refused and a refusal is not final), and the
    /// caller reads it again under the whole filter. There is no row either way when none exists.
    /// </summary>
    private static async Task<(StoredVersion?, bool)?> ReadAssumingAsync(DbConnection connection, DbTransaction? transaction, string sql, (string, object?)[] key, FilterAssumption assumed, AccessFilter filter, CancellationToken ct)
    {
        await using var cmd = Db.Command(connection, transaction, sql, [.. key, .. filter.Parameters]);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return (null, false);
        }

        var visible = reader.GetInt32(VersionColumnCount) != 0;
        return reader.GetInt32(VersionColumnCount + 1) != 0 || (!visible && !assumed.RefusalIsFinal) ? null : (ReadVersion(reader), visible);
    }

    private static async Task<(StoredVersion?, bool)> ReadVisibleAsync(DbCommand cmd, AccessFilter? filter, CancellationToken ct)
    {
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? (ReadVersion(reader), filter is null || reader.GetInt32(VersionColumnCount) != 0) : (null, false);
    }

    public async Task<List<StoredVersion>> ReadManyCurrentAsync(DbConnection connection, DbTransaction? transaction, IReadOnlyList<(string Type, string Id)> keys, CancellationToken ct)
    {
        var result = new List<StoredVersion>(keys.Count);
        if (keys.Count == 0)
        {
            return result;
        }

        if (dialect.Kind == DatabaseKind.Postgres)
        {
            // One statement text whatever the number of keys: the keys travel as two arrays, and the plan is a
            // nested loop of primary-key lookups (a long OR of pairs cost more to bind and plan than to run).
            var distinct = keys.Distinct().ToList();
            await using var cmd = Db.Command(connection, transaction,
                $"SELECT {VersionColumns} FROM unnest(@types, @ids) AS k(t, i) JOIN resource r ON r.resource_type = k.t AND r.id = k.i JOIN resource_version v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version = r.version",
                ("types", distinct.Select(k => k.Type).ToArray()), ("ids", distinct.Select(k => k.Id).ToArray()));
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                result.Add(ReadVersion(reader));
            }
        }

        foreach (var chunk in dialect.Kind == DatabaseKind.Postgres ? [] : keys.Chunk(200))
        {
            var clauses = new List<string>();
            var parameters = new List<(string, object?)>();
            for (var i = 0; i < chunk.Length; i++)
            {
                clauses.Add($"(r.resource_type = @t{i} AND r.id = @i{i})");
                parameters.Add(($"t{i}", chunk[i].Type));
                parameters.Add(($"i{i}", chunk[i].Id));
            }

            await using var cmd = Db.Command(connection, transaction,
                $"SELECT {VersionColumns} FROM resource r JOIN resource_version v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version = r.version WHERE {string.Join(" OR ", clauses)}",
                [.. parameters]);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                result.Add(ReadVersion(reader));
            }
        }

        // Keep the order the caller asked for (search order).
        var order = keys.Select((k, i) => (k, i)).ToDictionary(x => x.k, x => x.i);
        result.Sort((a, b) => order[(a.ResourceType, a.Id)].CompareTo(order[(b.ResourceType, b.Id)]));
        return result;
    }

    public async Task<CurrentRow?> LockCurrentAsync(WriteScope scope, string type, string id, CancellationToken ct)
    {
        await using var cmd = Db.Command(scope.Connection, scope.Transaction,
            "SELECT version, deleted, patient_key FROM resource WHERE resource_type = @t AND id = @id" + dialect.ForUpdate, ("t", type), ("id", id));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? new CurrentRow(reader.GetInt64(0), reader.GetInt32(1) != 0, reader.IsDBNull(2) ? null : reader.GetString(2)) : null;
    }

    /// <summary>
    /// Locks the current rows of many resources at once and claims the ids that do not exist yet, so that a
    /// bundle's updates need no round trip each. A key missing from the answer was taken by a concurrent writer
    /// and is left to the one-by-one path.
    /// </summary>
    public async Task<Dictionary<(string Type, string Id), PreparedTarget>> PrepareTargetsAsync(WriteScope scope, IReadOnlyList<(string Type, string Id)> keys, long lastUpdated, CancellationToken ct)
    {
        var prepared = new Dictionary<(string Type, string Id), PreparedTarget>();
        foreach (var chunk in keys.Distinct().Chunk(200))
        {
            var rows = string.Join(", ", chunk.Select((_, i) => $"(@t{i}, @i{i})"));
            var parameters = chunk.SelectMany((k, i) => new (string, object?)[] { ($"t{i}", k.Type), ($"i{i}", k.Id) }).ToList();
            await using (var cmd = Db.Command(scope.Connection, scope.Transaction,
                $"SELECT resource_type, id, version, deleted, patient_key FROM resource WHERE (resource_type, id) IN ({rows}) ORDER BY resource_type, id" + dialect.ForUpdate, [.. parameters]))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    prepared[(reader.GetString(0), reader.GetString(1))] = new PreparedTarget(
                        new CurrentRow(reader.GetInt64(2), reader.GetInt32(3) != 0, reader.IsDBNull(4) ? null : reader.GetString(4)), false);
                }
            }

            var missing = chunk.Where(k => !prepared.ContainsKey(k)).ToList();
            if (missing.Count == 0)
            {
                continue;
            }

            var values = string.Join(", ", missing.Select((_, i) => $"(@t{i}, @i{i}, 0, @lu, 1, NULL)"));
            var claimParameters = missing.SelectMany((k, i) => new (string, object?)[] { ($"t{i}", k.Type), ($"i{i}", k.Id) }).Append(("lu", lastUpdated)).ToList();
            await using var claim = Db.Command(scope.Connection, scope.Transaction,
                $"INSERT INTO resource (resource_type, id, version, last_updated, deleted, patient_key) VALUES {values} ON CONFLICT DO NOTHING RETURNING resource_type, id", [.. claimParameters]);
            await using var claimed = await claim.ExecuteReaderAsync(ct);
            while (await claimed.ReadAsync(ct))
            {
                prepared[(claimed.GetString(0), claimed.GetString(1))] = new PreparedTarget(null, true);
            }
        }

        return prepared;
    }

    /// <summary>Claims a new resource id; false when another writer holds it already.</summary>
    public async Task<bool> TryClaimAsync(WriteScope scope, string type, string id, long lastUpdated, string? patientKey, CancellationToken ct)
    {
        var rows = await Db.ExecuteAsync(scope,
            "INSERT INTO resource (resource_type, id, version, last_updated, deleted, patient_key) VALUES (@t, @id, 0, @lu, 1, @pk) ON CONFLICT DO NOTHING",
            ct, ("t", type), ("id", id), ("lu", lastUpdated), ("pk", patientKey));
        return rows == 1;
    }

    /// <summary>
    /// Writes a version, moves the current row to it and replaces the index rows, as one multi-statement command:
    /// one round trip per version instead of one per table.
    /// </summary>
    public async Task WriteVersionAsync(WriteScope scope, StoredVersion version, string? patientKey, IndexValues? index, bool isNew, CancellationToken ct)
    {
        if (scope.Deferred is { } deferred)
        {
            await deferred.AddAsync(version, patientKey, index, isNew, ct);
            return;
        }

        if (scope.Connection is Npgsql.NpgsqlConnection postgres)
        {
            await PostgresVersionWriter.WriteAsync(postgres, (Npgsql.NpgsqlTransaction)scope.Transaction, version, patientKey, index, isNew, ct);
            return;
        }

        SqliteVersionWriter.Write((Microsoft.Data.Sqlite.SqliteConnection)scope.Connection, (Microsoft.Data.Sqlite.SqliteTransaction)scope.Transaction, version, patientKey, index, isNew);
    }

    /// <summary>Replaces a resource's index rows without writing a version (reindexing after the parameters changed).</summary>
    public async Task ReplaceIndexAsync(WriteScope scope, string type, string id, string? patientKey, IndexValues index, CancellationToken ct)
    {
        await scope.FlushAsync(ct);
        if (scope.Connection is Npgsql.NpgsqlConnection postgres)
        {
            await PostgresVersionWriter.ReplaceIndexAsync(postgres, (Npgsql.NpgsqlTransaction)scope.Transaction, type, id, patientKey, index, ct);
            return;
        }

        SqliteVersionWriter.ReplaceIndex((Microsoft.Data.Sqlite.SqliteConnection)scope.Connection, (Microsoft.Data.Sqlite.SqliteTransaction)scope.Transaction, type, id, patientKey, index);
    }

    /// <summary>
    /// A join that looks each row of <paramref name="table"/> up by its key, <paramref name="on"/> being the key's
    /// condition with the table's rows written <c>$t</c>. On PostgreSQL it is a LATERAL subquery kept apart by
    /// OFFSET 0, so that it stays a lookup per row: joined plainly, a few hundred keys were hashed against a
    /// sequential scan of the whole table. SQLite looks rows up by key either way.
    /// </summary>
    internal static string JoinByKey(DbConnection connection, string table, string alias, string on) =>
        connection is Npgsql.NpgsqlConnection
            ? $"CROSS JOIN LATERAL (SELECT * FROM {table} {alias}1 WHERE {on.Replace("$t", alias + "1", StringComparison.Ordinal)} OFFSET 0) {alias}"
            : $"JOIN {table} {alias} ON {on.Replace("$t", alias, StringComparison.Ordinal)}";

    /// <summary>A version row read from <see cref="VersionColumns"/>, which start at column <paramref name="first"/>.</summary>
    internal static StoredVersion ReadVersion(DbDataReader reader, int first = 0) => new(
        reader.GetString(first),
        reader.GetString(first + 1),
        reader.GetInt64(first + 2),
        DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(first + 3)),
        reader.GetInt32(first + 4) != 0,
        reader.GetString(first + 5),
        reader.IsDBNull(first + 6) ? null : reader.GetString(first + 6),
        reader.GetInt64(first + 7),
        reader.IsDBNull(first + 8) ? null : reader.GetString(first + 8));
}
