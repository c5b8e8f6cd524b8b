using System.Data.Common;
using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Search;

/// <summary>One page of matches, the total when asked for, and included resources.</summary>
internal sealed record SearchPage(List<StoredVersion> Matches, List<StoredVersion> Included, int? Total, string? NextCursor, int? NextOffset);

/// <summary>Runs a planned search: finds the page of ids, then loads their current versions.</summary>
internal sealed class SearchExecutor(ResourceRepository repository)
{
    public const int MaxIncluded = 1000;

    public async Task<SearchPage> ExecuteAsync(DbConnection connection, DbTransaction? transaction, SearchQuery query, string baseUrl, CancellationToken ct)
    {
        var builder = new SearchSqlBuilder(baseUrl);
        var where = builder.Where("r", query.ResourceType, query.Criteria);
        if (query.CompartmentPatient is not null)
        {
            where += query.ResourceType == "Patient"
                ? $" AND r.id = {builder.Param(query.CompartmentPatient)}"
                : $" AND r.patient_key = {builder.Param(query.CompartmentPatient)}";
        }

        int? total = null;
        if (query.Total != "none" && (query.Cursor is null && query.Offset == 0 || query.Summary == "count"))
        {
            await using var countCmd = Db.Command(connection, transaction, $"SELECT COUNT(*) FROM resource r WHERE {where}", [.. builder.Parameters]);
            total = Convert.ToInt32(await countCmd.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
        }

        if (query.Summary == "count" || query.Count == 0)
        {
            return new SearchPage([], [], total, null, null);
        }

        var pageWhere = where;
        string order;
        var keyset = query.Sort.Count == 0;
        if (keyset)
        {
            if (query.Cursor is not null)
            {
                var (lu, id) = DecodeCursor(query.Cursor);
                pageWhere += $" AND (r.last_updated > {builder.Param(lu)} OR (r.last_updated = {builder.Param(lu)} AND r.id > {builder.Param(id)}))";
            }

            order = "r.last_updated, r.id";
        }
        else
        {
            order = string.Join(", ", query.Sort.Select(s => SortExpression(builder, s))) + ", r.id";
        }

        var sql = $"SELECT r.resource_type, r.id, r.last_updated FROM resource r WHERE {pageWhere} ORDER BY {order} LIMIT {query.Count + 1}"
            + (keyset ? string.Empty : $" OFFSET {query.Offset}");
        var keys = new List<(string Type, string Id, long LastUpdated)>();
        await using (var cmd = Db.Command(connection, transaction, sql, [.. builder.Parameters]))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                keys.Add((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)));
            }
        }

        string? nextCursor = null;
        int? nextOffset = null;
        if (keys.Count > query.Count)
        {
            keys.RemoveAt(keys.Count - 1);
            if (keyset)
            {
                nextCursor = EncodeCursor(keys[^1].LastUpdated, keys[^1].Id);
            }
            else
            {
                nextOffset = query.Offset + query.Count;
            }
        }

        var matches = await repository.ReadManyCurrentAsync(connection, transaction, keys.Select(k => (k.Type, k.Id)).ToList(), ct);
        var included = await IncludeAsync(connection, transaction, query, matches, ct);
        return new SearchPage(matches, included, total, nextCursor, nextOffset);
    }

    private static string SortExpression(SearchSqlBuilder builder, SortKey key)
    {
        var dir = key.Descending ? "DESC" : "ASC";
        var agg = key.Descending ? "MAX" : "MIN";
        if (key.Param.Code == "_id")
        {
            return $"r.id {dir}";
        }

        if (key.Param.Code == "_lastUpdated")
        {
            return $"r.last_updated {dir}";
        }

        var (table, column) = key.Param.Type switch
        {
            SearchParamType.String => ("idx_string", "value_norm"),
            SearchParamType.Token => ("idx_token", "code"),
            SearchParamType.Date => ("idx_date", key.Descending ? "high" : "low"),
            SearchParamType.Number => ("idx_number", "low"),
            SearchParamType.Quantity => ("idx_quantity", "low"),
            SearchParamType.Uri => ("idx_uri", "value"),
            _ => ("idx_string", "value_norm"),
        };
        // Resources without a value sort last in both directions.
        var value = $"(SELECT {agg}(s.{column}) FROM {table} s WHERE s.resource_type = r.resource_type AND s.id = r.id AND s.param = {builder.Param(key.Param.Code)})";
        return $"CASE WHEN {value} IS NULL THEN 1 ELSE 0 END, {value} {dir}";
    }

    private async Task<List<StoredVersion>> IncludeAsync(DbConnection connection, DbTransaction? transaction, SearchQuery query, List<StoredVersion> matches, CancellationToken ct)
    {
        var result = new List<StoredVersion>();
        if (query.Includes.Count == 0 || matches.Count == 0)
        {
            return result;
        }

        var seen = new HashSet<(string, string)>(matches.Select(m => (m.ResourceType, m.Id)));
        var frontier = matches;
        for (var round = 0; round < 4 && frontier.Count > 0 && result.Count < MaxIncluded; round++)
        {
            var found = new List<(string Type, string Id)>();
            foreach (var spec in query.Includes.Where(i => round == 0 || i.Iterate))
            {
                var sources = frontier.Where(f => f.ResourceType == spec.SourceType || spec.Reverse).ToList();
                if (sources.Count == 0)
                {
                    continue;
                }

                foreach (var group in sources.GroupBy(s => s.ResourceType))
                {
                    found.AddRange(await FindIncludedAsync(connection, transaction, spec, group.ToList(), ct));
                }
            }

            var fresh = found.Where(seen.Add).Take(MaxIncluded - result.Count).ToList();
            frontier = await repository.ReadManyCurrentAsync(connection, transaction, fresh, ct);
            frontier.RemoveAll(v => v.Deleted);
            result.AddRange(frontier);
        }

        return result;
    }

    private static async Task<List<(string Type, string Id)>> FindIncludedAsync(DbConnection connection, DbTransaction? transaction, IncludeSpec spec, List<StoredVersion> sources, CancellationToken ct)
    {
        var found = new List<(string, string)>();
        foreach (var chunk in sources.Chunk(200))
        {
            var parameters = new List<(string, object?)>();
            var ids = new List<string>();
            for (var i = 0; i < chunk.Length; i++)
            {
                ids.Add($"@i{i}");
                parameters.Add(($"i{i}", chunk[i].Id));
            }

            string sql;
            parameters.Add(("src", spec.SourceType));
            var paramFilter = spec.Param == "*" ? string.Empty : " AND x.param = @p";
            if (spec.Param != "*")
            {
                parameters.Add(("p", spec.Param));
            }

            if (!spec.Reverse)
            {
                sql = $"SELECT DISTINCT x.target_type, x.target_id FROM idx_reference x WHERE x.resource_type = @src AND x.id IN ({string.Join(", ", ids)}){paramFilter} AND x.target_id IS NOT NULL";
                if (spec.TargetType is not null)
                {
                    sql += " AND x.target_type = @tt";
                    parameters.Add(("tt", spec.TargetType));
                }
            }
            else
            {
                sql = $"SELECT DISTINCT x.resource_type, x.id FROM idx_reference x WHERE x.resource_type = @src{paramFilter} AND x.target_type = @tt AND x.target_id IN ({string.Join(", ", ids)})";
                parameters.Add(("tt", chunk[0].ResourceType));
            }

            await using var cmd = Db.Command(connection, transaction, sql, [.. parameters]);
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                found.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        return found;
    }

    private static string EncodeCursor(long lastUpdated, string id) => PageCursor.Encode(lastUpdated.ToString(CultureInfo.InvariantCulture), id);

    private static (long LastUpdated, string Id) DecodeCursor(string cursor)
    {
        var values = PageCursor.Decode(cursor, 2);
        return long.TryParse(values[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var lastUpdated)
            ? (lastUpdated, values[1])
            : throw Interactions.FhirException.BadRequest("The paging cursor is not valid: follow the bundle's paging links as given.", "_cursor");
    }
}
