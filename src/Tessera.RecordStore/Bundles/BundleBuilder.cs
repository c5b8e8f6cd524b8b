using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.History;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Search;
using Tessera.RecordStore.Serialization;

namespace Tessera.RecordStore;

/// <summary>Builds searchset and history bundles with paging links.</summary>
internal static class BundleBuilder
{
    public static SearchBody SearchSet(SearchPage page, SearchQuery query, FhirRequest request)
    {
        var baseUrl = request.BaseUrl.TrimEnd('/');
        var path = request.Path.EndsWith("/_search", StringComparison.Ordinal) ? request.Path[..^"/_search".Length] : request.Path;
        var bundle = new Bundle
        {
            Id = Guid.NewGuid().ToString(),
            Type = Bundle.BundleType.Searchset,
            Total = page.Total,
            Meta = new Meta { LastUpdated = DateTimeOffset.UtcNow },
        };
        var applied = query.Applied.Where(a => a.Key != "_cursor").ToList();
        bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = Url(baseUrl, path, applied, query.Cursor) });
        bundle.Link.Add(new Bundle.LinkComponent { Relation = "first", Url = Url(baseUrl, path, applied, null) });
        if (page.PreviousCursor is not null)
        {
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "previous", Url = Url(baseUrl, path, applied, page.PreviousCursor) });
        }

        if (page.NextCursor is not null)
        {
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = Url(baseUrl, path, applied, page.NextCursor) });
        }

        if (page.LastCursor is not null)
        {
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "last", Url = Url(baseUrl, path, applied, page.LastCursor) });
        }

        var entries = new List<SearchBodyEntry>(page.Matches.Count + page.Included.Count + 1);
        entries.AddRange(page.Matches.Select(m => Entry(baseUrl, m, Bundle.SearchEntryMode.Match, query)));
        entries.AddRange(page.Included.Select(i => Entry(baseUrl, i, Bundle.SearchEntryMode.Include, query)));

        var notes = query.Ignored.Select(i => (OperationOutcome.IssueType.NotSupported, $"Ignored {i}."))
            .Concat(page.Warnings.Select(w => (OperationOutcome.IssueType.TooCostly, w)))
            .ToList();
        if (notes.Count > 0)
        {
            var outcome = new OperationOutcome();
            foreach (var (code, text) in notes)
            {
                outcome.Issue.Add(new OperationOutcome.IssueComponent { Severity = OperationOutcome.IssueSeverity.Warning, Code = code, Diagnostics = text });
            }

            entries.Add(new SearchBodyEntry(null, "OperationOutcome", null, null, Bundle.SearchEntryMode.Outcome, null, outcome));
        }

        return new SearchBody(bundle, entries);
    }

    /// <summary>A stored resource as a searchset entry: its JSON as stored, or, for _summary and _elements, the cut resource.</summary>
    private static SearchBodyEntry Entry(string baseUrl, StoredVersion version, Bundle.SearchEntryMode mode, SearchQuery query)
    {
        var fullUrl = $"{baseUrl}/{version.ResourceType}/{version.Id}";
        if (query.Summary is null && query.Elements is null)
        {
            return new SearchBodyEntry(fullUrl, version.ResourceType, version.Id, version.Version, mode, version.Json!, null, version.PatientKey);
        }

        var resource = Summaries.Apply(FhirSerialization.ParseStored(version.Json!), query.Summary, query.Elements);
        return new SearchBodyEntry(fullUrl, version.ResourceType, version.Id, version.Version, mode, null, resource, version.PatientKey);
    }

    private static string Url(string baseUrl, string path, List<KeyValuePair<string, string>> applied, string? cursor)
    {
        var parts = applied.Select(a => Uri.EscapeDataString(a.Key) + "=" + Uri.EscapeDataString(a.Value)).ToList();
        if (cursor is not null)
        {
            parts.Add("_cursor=" + cursor);
        }

        return $"{baseUrl}/{path}" + (parts.Count > 0 ? "?" + string.Join("&", parts) : string.Empty);
    }

    public static Bundle History(HistoryPage page, HistoryQuery query, FhirRequest request)
    {
        var baseUrl = request.BaseUrl.TrimEnd('/');
        var bundle = new Bundle { Id = Guid.NewGuid().ToString(), Type = Bundle.BundleType.History, Meta = new Meta { LastUpdated = DateTimeOffset.UtcNow } };
        var kept = request.Query.Where(q => q.Key is not "_before-seq").Select(q => Uri.EscapeDataString(q.Key) + "=" + Uri.EscapeDataString(q.Value)).ToList();
        string Link(long? before)
        {
            var parts = new List<string>(kept);
            if (before is not null)
            {
                parts.Add("_before-seq=" + before.Value.ToString(CultureInfo.InvariantCulture));
            }

            return $"{baseUrl}/{request.Path}" + (parts.Count > 0 ? "?" + string.Join("&", parts) : string.Empty);
        }

        bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = Link(query.Before) });
        if (page.NextBefore is not null)
        {
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = Link(page.NextBefore) });
        }

        foreach (var v in page.Versions)
        {
            var entry = new Bundle.EntryComponent
            {
                FullUrl = $"{baseUrl}/{v.ResourceType}/{v.Id}",
                Resource = v.Json is null ? null : FhirSerialization.ParseStored(v.Json),
                Request = new Bundle.RequestComponent
                {
                    Method = v.Method switch
                    {
                        "POST" => Bundle.HTTPVerb.POST,
                        "DELETE" => Bundle.HTTPVerb.DELETE,
                        "PATCH" => Bundle.HTTPVerb.PATCH,
                        _ => Bundle.HTTPVerb.PUT,
                    },
                    Url = v.Method == "POST" ? v.ResourceType : $"{v.ResourceType}/{v.Id}",
                },
                Response = new Bundle.ResponseComponent
                {
                    Status = v.Deleted ? "204 No Content" : v.Version == 1 ? "201 Created" : "200 OK",
                    Etag = $"W/\"{v.Version.ToString(CultureInfo.InvariantCulture)}\"",
                    LastModified = v.LastUpdated,
                },
            };
            bundle.Entry.Add(entry);
        }

        return bundle;
    }
}
