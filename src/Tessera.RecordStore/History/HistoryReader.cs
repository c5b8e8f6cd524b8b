using System.Data.Common;
using System.Globalization;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Search;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.History;

/// <summary>Parameters of a history interaction (FHIR R4 3.1.0.9).</summary>
internal sealed record HistoryQuery(string? ResourceType, string? Id, FhirDateRange? Since, FhirDateRange? At, int Count, long? Before);

internal sealed record HistoryPage(List<StoredVersion> Versions, long? NextBefore);

/// <summary>
/// Reads versions newest first. Pages are keyed on the version sequence, so a page boundary does not
/// shift while new versions are written.
/// </summary>
internal static class HistoryReader
{
    public const int DefaultCount = 50;

    public static HistoryQuery Parse(string? type, string? id, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        FhirDateRange? since = null, at = null;
        var count = DefaultCount;
        long? before = null;
        foreach (var (key, value) in parameters)
        {
            switch (key)
            {
                case "_since":
                    since = FhirDateRange.TryParse(value, out var s) ? s : throw FhirException.BadRequest($"_since must be an instant such as 2024-01-31T09:00:00Z, not '{value}'.", "_since");
                    break;
                case "_at":
                    at = FhirDateRange.TryParse(value, out var a) ? a : throw FhirException.BadRequest($"_at must be a date or dateTime, not '{value}'.", "_at");
                    break;
                case "_count":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1)
                    {
                        throw FhirException.BadRequest($"_count must be a whole number of 1 or more, not '{value}'.", "_count");
                    }

                    count = Math.Min(count, SearchQuery.MaxCount);
                    break;
                case "_before-seq":
                    before = long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var b) ? b : throw FhirException.BadRequest("The paging position is not valid: follow the bundle's next link as given.", key);
                    break;
                case "_format" or "_pretty" or "_summary" or "_elements":
                    break;
                default:
                    throw FhirException.BadRequest($"'{key}' is not a parameter of the history interaction; use _since, _at or _count.", key, Hl7.Fhir.Model.OperationOutcome.IssueType.NotSupported);
            }
        }

        return new HistoryQuery(type, id, since, at, count, before);
    }

    public static async Task<HistoryPage> ReadAsync(DbConnection connection, HistoryQuery query, CancellationToken ct)
    {
        var where = new List<string>();
        var parameters = new List<(string, object?)>();
        if (query.ResourceType is not null)
        {
            where.Add("v.resource_type = @t");
            parameters.Add(("t", query.ResourceType));
        }

        if (query.Id is not null)
        {
            where.Add("v.id = @id");
            parameters.Add(("id", query.Id));
        }

        if (query.Since is { } since)
        {
            where.Add("v.last_updated >= @since");
            parameters.Add(("since", since.Low));
        }

        if (query.At is { } at)
        {
            // Versions that were current at some moment of the _at range.
            where.Add("v.last_updated <= @atHigh AND NOT EXISTS (SELECT 1 FROM resource_version n WHERE n.resource_type = v.resource_type AND n.id = v.id AND n.version = v.version + 1 AND n.last_updated <= @atLow)");
            parameters.Add(("atHigh", at.High));
            parameters.Add(("atLow", at.Low));
        }

        if (query.Before is { } before)
        {
            where.Add("v.seq < @before");
            parameters.Add(("before", before));
        }

        var (access, accessParameters) = FhirStore.FilterTerm("v", query.ResourceType);
        if (access.Length > 0)
        {
            where.Add(access[" AND ".Length..]);
            parameters.AddRange(accessParameters);
        }

        var sql = $"SELECT {ResourceRepository.VersionColumns} FROM resource_version v"
            + (where.Count > 0 ? " WHERE " + string.Join(" AND ", where) : string.Empty)
            + $" ORDER BY v.seq DESC LIMIT {query.Count + 1}";
        var versions = new List<StoredVersion>();
        await using (var cmd = Db.Command(connection, null, sql, [.. parameters]))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                versions.Add(ResourceRepository.ReadVersion(reader));
            }
        }

        long? next = null;
        if (versions.Count > query.Count)
        {
            versions.RemoveAt(versions.Count - 1);
            next = versions[^1].Seq;
        }

        return new HistoryPage(versions, next);
    }
}
