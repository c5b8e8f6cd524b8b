using System.Data.Common;
using System.Globalization;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Search;

internal enum SortKind
{
    Text,
    Long,
    Double,
}

/// <summary>One key of a search's order: an SQL expression over the resource alias <c>r</c>, its direction, and whether it may be NULL (sorted last).</summary>
internal sealed record SortColumn(string Expression, bool Descending, SortKind Kind, bool Nullable);

/// <summary>
/// Keyset paging in both directions over any sort order. A cursor holds the sort key of the row a page starts
/// after (next) or ends before (previous), so the links keep pointing at the right place while resources are
/// added or removed, unlike offsets over a moving set. "last" reads the order backwards from its end.
/// </summary>
internal sealed class Keyset(IReadOnlyList<SortColumn> columns)
{
    private const string After = "a";
    private const string Before = "b";
    private const string Last = "l";

    public static string LastCursor { get; } = PageCursor.Encode(Last);

    /// <summary>
    /// One page of matches, read with their current stored versions in the same statement: the page's keys are
    /// chosen first (a materialised CTE), then each one's version row is looked up by its key. Null when the filter's
    /// <paramref name="tests"/>, sent ahead of the page, did not answer as guessed.
    /// </summary>
    public async Task<(List<StoredVersion> Matches, string? Next, string? Previous)?> PageAsync(
        DbConnection connection, DbTransaction? transaction, SearchSqlBuilder builder, string where, string? cursor, int count, DeferredTests? tests, CancellationToken ct)
    {
        var (direction, values) = Decode(cursor);
        var backwards = direction is Before or Last;
        var select = string.Join(", ", columns.Select((c, i) => $"{c.Expression} AS k{i.ToString(CultureInfo.InvariantCulture)}"));
        var filter = direction is After or Before ? " WHERE " + Beyond(builder, values!, later: direction == After) : string.Empty;
        var order = string.Join(", ", columns.Select((c, i) => Order(c, i, backwards)));
        var page = $"SELECT q.* FROM (SELECT r.resource_type AS rt, r.id AS rid, r.version AS rv, {select} FROM resource r WHERE {where}) q{filter} ORDER BY {order} LIMIT {(count + 1).ToString(CultureInfo.InvariantCulture)}";
        var versions = ResourceRepository.JoinByKey(connection, "resource_version", "v", "$t.resource_type = q.rt AND $t.id = q.rid AND $t.version = q.rv");
        var sql = $"WITH p AS MATERIALIZED ({page}) SELECT q.*, {ResourceRepository.VersionColumns} FROM p q {versions} ORDER BY {order}";

        var rows = new List<(StoredVersion Version, string?[] Key)>();
        var first = 3 + columns.Count;
        await using (var read = await DeferredTests.ReadAsync(connection, transaction, tests, sql, [.. builder.Parameters], ct))
        {
            if (read is null)
            {
                return null;
            }

            var reader = read.Reader;
            while (await reader.ReadAsync(ct))
            {
                var key = new string?[columns.Count];
                for (var i = 0; i < columns.Count; i++)
                {
                    key[i] = reader.IsDBNull(i + 3) ? null : Text(reader.GetValue(i + 3));
                }

                rows.Add((ResourceRepository.ReadVersion(reader, first), key));
            }
        }

        var more = rows.Count > count;
        if (more)
        {
            rows.RemoveAt(rows.Count - 1);
        }

        if (backwards)
        {
            rows.Reverse();
        }

        if (rows.Count == 0)
        {
            return ([], null, null);
        }

        // Forwards there is a previous page when we came from one; backwards there is a next page by construction.
        var hasNext = backwards ? direction == Before : more;
        var hasPrevious = backwards ? more : direction == After;
        return (
            rows.Select(r => r.Version).ToList(),
            hasNext ? Encode(After, rows[^1].Key) : null,
            hasPrevious ? Encode(Before, rows[0].Key) : null);
    }

    /// <summary>Rows strictly after (or before) the cursor row in the order: lexicographic over the keys, NULLs last.</summary>
    private string Beyond(SearchSqlBuilder builder, string?[] values, bool later)
    {
        var alternatives = new List<string>();
        var equalSoFar = new List<string>();
        for (var i = 0; i < columns.Count; i++)
        {
            var column = columns[i];
            var k = "q.k" + i.ToString(CultureInfo.InvariantCulture);
            var value = values[i];
            string strict, equal;
            if (value is null)
            {
                strict = later ? "1 = 0" : $"{k} IS NOT NULL";
                equal = $"{k} IS NULL";
            }
            else
            {
                var p = builder.Param(Parse(column.Kind, value));
                var op = later != column.Descending ? ">" : "<";
                strict = later && column.Nullable ? $"({k} IS NULL OR {k} {op} {p})" : $"{k} {op} {p}";
                equal = $"{k} = {p}";
            }

            alternatives.Add("(" + string.Join(" AND ", equalSoFar.Append(strict)) + ")");
            equalSoFar.Add(equal);
        }

        return "(" + string.Join(" OR ", alternatives) + ")";
    }

    private static string Order(SortColumn column, int index, bool backwards)
    {
        var k = "q.k" + index.ToString(CultureInfo.InvariantCulture);
        var descending = column.Descending != backwards;
        var direction = descending ? "DESC" : "ASC";
        if (!column.Nullable)
        {
            return $"{k} {direction}";
        }

        // NULLs last in the page's own order, so first when reading it backwards.
        return $"CASE WHEN {k} IS NULL THEN {(backwards ? 0 : 1)} ELSE {(backwards ? 1 : 0)} END, {k} {direction}";
    }

    private (string Direction, string?[]? Values) Decode(string? cursor)
    {
        if (cursor is null)
        {
            return (string.Empty, null);
        }

        if (cursor == LastCursor)
        {
            return (Last, null);
        }

        var parts = PageCursor.Decode(cursor, columns.Count + 1);
        if (parts[0] is not (After or Before))
        {
            throw Interactions.FhirException.BadRequest("The paging cursor is not valid: follow the bundle's paging links as given.", "_cursor");
        }

        var values = parts.Skip(1).Select(v => v.Length == 0 ? null : v[1..]).ToArray();
        foreach (var (value, column) in values.Zip(columns))
        {
            if (value is not null)
            {
                _ = Parse(column.Kind, value);
            }
        }

        return (parts[0], values);
    }

    // A value is written with a leading '=' so that an empty string and NULL stay distinct.
    private static string Encode(string direction, string?[] key) =>
        PageCursor.Encode([direction, .. key.Select(v => v is null ? string.Empty : "=" + v)]);

    private static string Text(object value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => ((double)f).ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    private static object Parse(SortKind kind, string value)
    {
        var ok = kind switch
        {
            SortKind.Long => long.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _),
            SortKind.Double => double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _),
            _ => true,
        };
        if (!ok)
        {
            throw Interactions.FhirException.BadRequest("The paging cursor is not valid: follow the bundle's paging links as given.", "_cursor");
        }

        return kind switch
        {
            SortKind.Long => long.Parse(value, CultureInfo.InvariantCulture),
            SortKind.Double => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture),
            _ => value,
        };
    }
}
