using System.Data.Common;
using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Search;

/// <summary>
/// One page of matches, the total when asked for, included resources, the keyset cursors of the pages around
/// it, and warnings for the bundle (e.g. includes that did not all fit).
/// </summary>
internal sealed record SearchPage(List<StoredVersion> Matches, List<StoredVersion> Included, int? Total, string? NextCursor, string? PreviousCursor = null, string? LastCursor = null)
{
    public List<string> Warnings { get; init; } = [];
}

/// <summary>Runs a planned search: finds the page of ids by keyset, then loads their current versions and includes.</summary>
internal sealed class SearchExecutor(ResourceRepository repository, SearchParameterRegistry registry)
{
    private readonly Terminology _terminology = new(repository);

    /// <summary>The most included resources one page carries; beyond it the bundle says how many were left out.</summary>
    public int MaxIncluded { get; set; } = 1000;

    /// <summary>How many rounds of :iterate includes one page follows before it says it stopped.</summary>
    public const int MaxIncludeRounds = 8;

    public Task<SearchPage> ExecuteAsync(DbConnection connection, DbTransaction? transaction, SearchQuery query, string baseUrl, CancellationToken ct) =>
        ExecuteAsync(connection, transaction, query, baseUrl, speculate: connection is Npgsql.NpgsqlConnection, ct);

    /// <param name="speculate">
    /// Whether a search pinned to one patient may be filtered on the answers last found to its filter's tests of the
    /// patient, the tests then going ahead of the search in the same round trip (<see cref="PatientRows"/>): when they
    /// answer otherwise, the search runs again on what they answered.
    /// </param>
    private async Task<SearchPage> ExecuteAsync(DbConnection connection, DbTransaction? transaction, SearchQuery query, string baseUrl, bool speculate, CancellationToken ct)
    {
        await _terminology.ResolveAsync(connection, transaction, query, ct);
        var builder = new SearchSqlBuilder(baseUrl, patternOperators: connection is Npgsql.NpgsqlConnection);
        var where = builder.Where("r", query.ResourceType, query.Criteria);
        DeferredTests? tests = null;
        if (query.CompartmentPatient is not null)
        {
            where += query.ResourceType == "Patient"
                ? $" AND r.id = {builder.Param(query.CompartmentPatient)}"
                : $" AND r.patient_key = {builder.Param(query.CompartmentPatient)}";
        }

        // The caller's access filter (FhirStore.Access) applies to the count, the page and its next link alike. When
        // every match is one patient's row, the filter is the one the policy settles for that patient, and the WHERE
        // clause says whose rows they are (a compartment search says so already).
        if (FhirStore.Filtered && PinnedPatient.Of(query, registry) is { } patient)
        {
            if (query.CompartmentPatient is null)
            {
                where += $" AND r.patient_key = {builder.Param(patient)}";
            }

            // The patient's tests, when they must be run first, go to a connection that keeps its plans (searches' own
            // connections plan each statement).
            var planned = repository.Dialect.Kind == DatabaseKind.Postgres ? repository.Dialect.OpenAsync : (Func<CancellationToken, Task<DbConnection>>?)null;
            var rows = new PatientRows(connection, transaction, patient, query.ResourceType, planned, speculate);
            where += await FhirStore.PatientFilterSqlAsync(rows, "r", builder.Param, ct);
            tests = rows.Deferred;
        }
        else
        {
            where += FhirStore.FilterSql("r", builder.Param, query.ResourceType);
        }

        var counted = query.Total != "none" && (query.Cursor is null || query.Summary == "count");
        if (query.Summary == "count" || query.Count == 0)
        {
            if (!counted)
            {
                return new SearchPage([], [], null, null);
            }

            return await CountAsync(connection, transaction, where, [.. builder.Parameters], tests, ct) is { } count
                ? new SearchPage([], [], count, null)
                : await ExecuteAsync(connection, transaction, query, baseUrl, speculate: false, ct);
        }

        // The count's parameters are the criteria's; sorting and paging add their own after them.
        (string, object?)[] criteria = [.. builder.Parameters];
        var keyset = new Keyset(SortColumns(builder, query));
        if (await keyset.PageAsync(connection, transaction, builder, where, query.Cursor, query.Count, tests, ct) is not { } paged)
        {
            return await ExecuteAsync(connection, transaction, query, baseUrl, speculate: false, ct);
        }

        var (matches, next, previous) = paged;

        // A first page with no next page holds every match: its size is the total, without counting them again.
        int? total = !counted ? null : query.Cursor is null && next is null ? matches.Count : await CountAsync(connection, transaction, where, criteria, null, ct);
        var page = new SearchPage(matches, [], total, next, previous, Keyset.LastCursor);
        page.Included.AddRange(await IncludeAsync(connection, transaction, query, matches, page.Warnings, ct));
        return page;
    }

    /// <summary>How many rows match; null when <paramref name="tests"/> answered otherwise than guessed (the filter was wrong).</summary>
    private static async Task<int?> CountAsync(DbConnection connection, DbTransaction? transaction, string where, (string, object?)[] parameters, DeferredTests? tests, CancellationToken ct)
    {
        await using var rows = await DeferredTests.ReadAsync(connection, transaction, tests, $"SELECT COUNT(*) FROM resource r WHERE {where}", parameters, ct);
        if (rows is null)
        {
            return null;
        }

        await rows.Reader.ReadAsync(ct);
        return Convert.ToInt32(rows.Reader.GetValue(0), CultureInfo.InvariantCulture);
    }

    /// <summary>The sort keys of a search, ending in the id so that every row has one place in the order.</summary>
    private static List<SortColumn> SortColumns(SearchSqlBuilder builder, SearchQuery query)
    {
        if (query.Sort.Count == 0)
        {
            return [new("r.last_updated", false, SortKind.Long, Nullable: false), new("r.id", false, SortKind.Text, Nullable: false)];
        }

        var columns = query.Sort.Select(s => SortColumn(builder, s)).ToList();
        if (!query.Sort.Any(s => s.Param.Code == "_id"))
        {
            columns.Add(new("r.id", false, SortKind.Text, Nullable: false));
        }

        return columns;
    }

    private static SortColumn SortColumn(SearchSqlBuilder builder, SortKey key)
    {
        if (key.Param.Code == "_id")
        {
            return new("r.id", key.Descending, SortKind.Text, Nullable: false);
        }

        if (key.Param.Code == "_lastUpdated")
        {
            return new("r.last_updated", key.Descending, SortKind.Long, Nullable: false);
        }

        var (table, column, kind) = key.Param.Type switch
        {
            SearchParamType.String => ("idx_string", "value_norm", SortKind.Text),
            SearchParamType.Token => ("idx_token", "code", SortKind.Text),
            SearchParamType.Date => ("idx_date", key.Descending ? "high" : "low", SortKind.Long),
            SearchParamType.Number => ("idx_number", "low", SortKind.Double),
            SearchParamType.Quantity => ("idx_quantity", "low", SortKind.Double),
            SearchParamType.Uri => ("idx_uri", "value", SortKind.Text),
            _ => ("idx_string", "value_norm", SortKind.Text),
        };
        var agg = key.Descending ? "MAX" : "MIN";
        return new($"(SELECT {agg}(s.{column}) FROM {table} s WHERE s.resource_type = r.resource_type AND s.id = r.id AND {builder.ParamIs("s.param", key.Param)})", key.Descending, kind, Nullable: true);
    }

    private async Task<List<StoredVersion>> IncludeAsync(DbConnection connection, DbTransaction? transaction, SearchQuery query, List<StoredVersion> matches, List<string> warnings, CancellationToken ct)
    {
        var result = new List<StoredVersion>();
        if (query.Includes.Count == 0 || matches.Count == 0)
        {
            return result;
        }

        // Includes belong to the page: each page carries those of its own matches, so paging pages them too.
        var seen = new HashSet<(string, string)>(matches.Select(m => (m.ResourceType, m.Id)));
        var frontier = matches;
        for (var round = 0; frontier.Count > 0; round++)
        {
            if (round == MaxIncludeRounds)
            {
                warnings.Add($"_include/_revinclude :iterate was followed {MaxIncludeRounds} levels deep; resources further along the chain are not in this bundle.");
                break;
            }

            var found = new List<(string Type, string Id)>();
            foreach (var spec in query.Includes.Where(i => round == 0 || i.Iterate))
            {
                var sources = frontier.Where(f => f.ResourceType == spec.SourceType || spec.Reverse).ToList();
                foreach (var group in sources.GroupBy(s => s.ResourceType))
                {
                    found.AddRange(await FindIncludedAsync(connection, transaction, spec, group.ToList(), ct));
                }
            }

            var fresh = await FhirStore.VisibleAsync(connection, transaction, found.Where(seen.Add).ToList(), ct);
            if (result.Count + fresh.Count > MaxIncluded)
            {
                warnings.Add($"This page's matches include more than {MaxIncluded} resources; {result.Count + fresh.Count - MaxIncluded} of them are not in this bundle. Ask for fewer matches per page (_count) to receive them all.");
                fresh = fresh.Take(MaxIncluded - result.Count).ToList();
            }

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
            var paramFilter = string.Empty;
            if (spec.Param is { IndexCodes: var codes })
            {
                // A union includes through the rows of each of its parts.
                var names = codes.Select((c, i) => "p" + i.ToString(CultureInfo.InvariantCulture)).ToList();
                parameters.AddRange(names.Zip(codes, (n, c) => (n, (object?)c)));
                paramFilter = $" AND x.param IN ({string.Join(", ", names.Select(n => "@" + n))})";
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
}
