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
    public static Bundle SearchSet(SearchPage page, SearchQuery query, FhirRequest request)
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

        foreach (var m in page.Matches)
        {
            bundle.Entry.Add(Entry(baseUrl, m, Bundle.SearchEntryMode.Match, query));
        }

        foreach (var i in page.Included)
        {
            bundle.Entry.Add(Entry(baseUrl, i, Bundle.SearchEntryMode.Include, query));
        }

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

            bundle.Entry.Add(new Bundle.EntryComponent { Resource = outcome, Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Outcome } });
        }

        return bundle;
    }

    private static Bundle.EntryComponent Entry(string baseUrl, StoredVersion version, Bundle.SearchEntryMode mode, SearchQuery query)
    {
        var resource = FhirSerialization.ParseStored(version.Json!);
        resource = Summaries.Apply(resource, query.Summary, query.Elements);
        return new Bundle.EntryComponent
        {
            FullUrl = $"{baseUrl}/{version.ResourceType}/{version.Id}",
            Resource = resource,
            Search = new Bundle.SearchComponent { Mode = mode },
        };
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
