using System.Data.Common;
using System.Globalization;
using Tessera.RecordStore;
using Tessera.RecordStore.Machinery;

namespace Tessera.Identity.Index;

/// <summary>Small helpers for the index's own SQL, the same on SQLite and PostgreSQL.</summary>
internal static class SqlRows
{
    public static async Task<List<T>> QueryAsync<T>(this StoreTransaction tx, string sql, Func<DbDataReader, T> map, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var cmd = tx.Command(sql, parameters);
        return await ReadAllAsync(cmd, map, ct);
    }

    public static async Task<List<T>> QueryAsync<T>(this DbConnection connection, string sql, Func<DbDataReader, T> map, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var cmd = FhirStore.Command(connection, sql, parameters);
        return await ReadAllAsync(cmd, map, ct);
    }

    /// <summary>"@p0, @p1, ..." with the parameters, for an IN list.</summary>
    public static (string Sql, (string, object?)[] Parameters) InList(IReadOnlyList<string> values, string prefix = "@p") =>
        (string.Join(", ", values.Select((_, i) => prefix + i.ToString(CultureInfo.InvariantCulture))),
         values.Select((v, i) => (prefix + i.ToString(CultureInfo.InvariantCulture), (object?)v)).ToArray());

    public static string? NullableString(this DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static long Long(this DbDataReader reader, int ordinal) => Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);

    private static async Task<List<T>> ReadAllAsync<T>(DbCommand cmd, Func<DbDataReader, T> map, CancellationToken ct)
    {
        var list = new List<T>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            list.Add(map(reader));
        }

        return list;
    }
}
