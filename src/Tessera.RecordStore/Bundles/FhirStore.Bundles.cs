using System.Globalization;
using System.Text;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Search;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore;

/// <summary>
/// Batch and transaction bundles (FHIR R4 3.1.0.11). A transaction runs in one database transaction:
/// identities are settled first (new ids, conditional creates and updates), references to fullUrls and
/// conditional references are rewritten, then entries run in the order the specification sets —
/// DELETE, POST, PUT/PATCH, GET/HEAD — and any failure rolls everything back.
/// </summary>
public sealed partial class FhirStore
{
    private sealed class EntryPlan(int index, Bundle.EntryComponent entry, FhirRequest request)
    {
        public int Index { get; } = index;

        public Bundle.EntryComponent Entry { get; } = entry;

        public FhirRequest Request { get; set; } = request;

        public string? Type { get; set; }

        public string? TargetId { get; set; }

        public FhirResponse? Existing { get; set; }

        /// <summary>For an update by id: its target locked (or claimed) ahead of time with the bundle's other targets.</summary>
        public Resources.PreparedTarget? Prepared { get; set; }
    }

    private async Task<FhirResponse> ProcessBundleAsync(FhirRequest request, CancellationToken ct)
    {
        if (request.Resource is not Bundle bundle)
        {
            throw FhirException.BadRequest("POST to the FHIR base takes a Bundle of type batch or transaction.", "resourceType");
        }

        return bundle.Type switch
        {
            Bundle.BundleType.Transaction => new FhirResponse { Resource = await TransactionAsync(bundle, request, ct) },
            Bundle.BundleType.Batch => new FhirResponse { Resource = await BatchAsync(bundle, request, ct) },
            _ => throw FhirException.BadRequest($"A Bundle posted to the base must be of type batch or transaction, not {bundle.Type?.ToString().ToLowerInvariant() ?? "(none)"}.", "Bundle.type"),
        };
    }

    private static EntryPlan Plan(Bundle.EntryComponent entry, int index, FhirRequest outer)
    {
        var path = $"Bundle.entry[{index}]";
        if (entry.Request?.Method is not { } method || string.IsNullOrWhiteSpace(entry.Request.Url))
        {
            throw FhirException.BadRequest($"{path} needs request.method and request.url.", $"{path}.request");
        }

        var url = RelativeUrl(entry.Request.Url, outer.BaseUrl, path);

        var r = FhirRequest.FromUrl(method.ToString(), url, entry.Resource, outer.BaseUrl) with
        {
            IfMatch = entry.Request.IfMatch,
            IfNoneMatch = entry.Request.IfNoneMatch,
            IfNoneExist = WithoutTypePrefix(entry.Request.IfNoneExist),
            IfModifiedSince = entry.Request.IfModifiedSince,
            PreferReturn = outer.PreferReturn,
            StrictHandling = outer.StrictHandling,
            Principal = outer.Principal,
            ClientAddress = outer.ClientAddress,
        };
        if (method == Bundle.HTTPVerb.PATCH && entry.Resource is Binary binary)
        {
            r = r with { JsonPatch = Encoding.UTF8.GetString(binary.Data ?? []), Resource = null };
        }

        var type = r.Path.Split('/')[0];
        return new EntryPlan(index, entry, r) { Type = type };
    }

    /// <summary>
    /// request.url is relative to the base; an absolute URL on this server, or one that ends in Type[/id], is
    /// taken as the same relative URL (as many senders write them).
    /// </summary>
    private static string RelativeUrl(string url, string baseUrl, string path)
    {
        var root = baseUrl.TrimEnd('/') + "/";
        if (url.StartsWith(root, StringComparison.Ordinal))
        {
            return url[root.Length..];
        }

        if (!url.Contains("://", StringComparison.Ordinal))
        {
            return url;
        }

        if (Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            var segments = uri.AbsolutePath.Trim('/').Split('/');
            for (var i = segments.Length - 1; i >= 0; i--)
            {
                if (IsConcreteResourceType(segments[i]) && segments.Length - i <= 4)
                {
                    return string.Join('/', segments[i..]) + uri.Query;
                }
            }
        }

        throw FhirException.BadRequest($"{path}.request.url '{url}' is not relative to this server's base and names no resource type; write it as Type, Type/id or Type?criteria.", $"{path}.request.url");
    }

    /// <summary>ifNoneExist is the query part only, but senders often write it as "Type?criteria".</summary>
    private static string? WithoutTypePrefix(string? criteria)
    {
        if (criteria is null)
        {
            return null;
        }

        var q = criteria.IndexOf('?', StringComparison.Ordinal);
        return q > 0 && IsConcreteResourceType(criteria[..q]) ? criteria[(q + 1)..] : criteria;
    }

    private static int Order(Bundle.HTTPVerb? method) => method switch
    {
        Bundle.HTTPVerb.DELETE => 0,
        Bundle.HTTPVerb.POST => 1,
        Bundle.HTTPVerb.PUT or Bundle.HTTPVerb.PATCH => 2,
        _ => 3,
    };

    private async Task<Bundle> TransactionAsync(Bundle bundle, FhirRequest request, CancellationToken ct)
    {
        var plans = bundle.Entry.Select((e, i) => Plan(e, i, request)).ToList();
        var ordered = plans.OrderBy(p => Order(p.Entry.Request!.Method)).ThenBy(p => p.Index).ToList();
        var responses = await InWriteAsync(null, async scope =>
        {
            var map = await SettleIdentitiesAsync(scope, ordered, request, ct);
            foreach (var plan in plans.Where(p => p.Entry.Resource is not null))
            {
                await RewriteReferencesAsync(scope, plan.Entry.Resource!, map, plan.Index, request.BaseUrl, ct);
            }

            // Creates and updates are held back and sent together; anything that reads through the scope flushes first.
            var deferring = scope.Defer();
            var updates = ordered.Where(p => p.Existing is null && p.Entry.Request!.Method == Bundle.HTTPVerb.PUT && p.TargetId is not null && p.Entry.Resource is not null && p.Type is not null).ToList();
            var prepared = updates.Count > 1
                ? await _repository.PrepareTargetsAsync(scope, [.. updates.Select(p => (p.Type!, p.TargetId!))], DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), ct)
                : [];
            foreach (var plan in updates)
            {
                plan.Prepared = prepared.GetValueOrDefault((plan.Type!, plan.TargetId!));
            }

            var results = new FhirResponse[plans.Count];
            try
            {
                foreach (var plan in ordered)
                {
                    if (deferring)
                    {
                        scope.Deferred!.Owner = plan.Index;
                        if (!WritesDirectly(plan))
                        {
                            await scope.FlushAsync(ct);
                        }
                    }

                    results[plan.Index] = await RunTransactionEntryAsync(scope, plan, ct);
                }

                // The held writes go with whatever the entries queued for the commit (their audit records), in one batch.
                await scope.PrepareCommitAsync(ct);
            }
            catch (DeferredWriteException e)
            {
                throw Annotate(FhirException.Conflict("The entry's resource id or version already exists."), e.Owner);
            }

            return results;
        }, ct);

        var response = new Bundle { Id = NewId(), Type = Bundle.BundleType.TransactionResponse, Meta = new Meta { LastUpdated = DateTimeOffset.UtcNow } };
        for (var i = 0; i < plans.Count; i++)
        {
            response.Entry.Add(ResponseEntry(responses[i], plans[i], request));
        }

        return response;
    }

    /// <summary>Whether an entry goes straight to the writer (a create or an update by id) rather than through dispatch.</summary>
    private static bool WritesDirectly(EntryPlan plan) =>
        plan.Existing is not null
        || (plan.Entry.Request!.Method == Bundle.HTTPVerb.POST && plan.Entry.Resource is not null and not Bundle)
        || (plan.Entry.Request!.Method == Bundle.HTTPVerb.PUT && plan.TargetId is not null && plan.Entry.Resource is not null);

    private async Task<FhirResponse> RunTransactionEntryAsync(WriteScope scope, EntryPlan plan, CancellationToken ct)
    {
        try
        {
            return await GovernAsync(plan.Request, scope, s => RunEntryAsync(s!, plan, ct), ct);
        }
        catch (FhirException e)
        {
            throw Annotate(e, plan.Index);
        }
    }

    private async Task<FhirResponse> RunEntryAsync(WriteScope scope, EntryPlan plan, CancellationToken ct)
    {
        {
            if (plan.Existing is not null)
            {
                return plan.Existing;
            }

            var method = plan.Entry.Request!.Method;
            if (method == Bundle.HTTPVerb.POST && plan.Entry.Resource is not null and not Bundle)
            {
                var resource = plan.Entry.Resource;
                if (resource.TypeName != plan.Type)
                {
                    throw FhirException.BadRequest($"The entry's resource is a {resource.TypeName}, but its request.url is for {plan.Type}.", "resourceType");
                }

                return await _writer.CreateAsync(scope, resource, plan.TargetId, ct);
            }

            if (method == Bundle.HTTPVerb.PUT && plan.TargetId is not null && plan.Entry.Resource is { } body)
            {
                if (body.TypeName != plan.Type)
                {
                    throw FhirException.BadRequest($"The entry's resource is a {body.TypeName}, but its request.url is for {plan.Type}.", "resourceType");
                }

                if (body.Id is not null && body.Id != plan.TargetId)
                {
                    throw FhirException.BadRequest($"The entry's resource id '{body.Id}' does not match its request.url ({plan.Type}/{plan.TargetId}).", $"{plan.Type}.id");
                }

                body.Id = plan.TargetId;
                var ifMatch = plan.Request.IfMatch is null ? (long?)null : ParseETag(plan.Request.IfMatch, "ifMatch");
                return await _writer.UpdateAsync(scope, body, plan.TargetId, ifMatch, "PUT", ct, plan.Prepared);
            }

            return await GuardedDispatchAsync(plan.Request, scope, ct);
        }
    }

    /// <summary>Gives every POST and PUT its final id before anything is written, so references can point at them.</summary>
    private async Task<Dictionary<string, string>> SettleIdentitiesAsync(WriteScope scope, List<EntryPlan> ordered, FhirRequest request, CancellationToken ct)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        var targets = new HashSet<string>(StringComparer.Ordinal);
        foreach (var plan in ordered)
        {
            try
            {
                var method = plan.Entry.Request!.Method;
                var segments = plan.Request.Path.Split('/');
                if (method == Bundle.HTTPVerb.POST && segments.Length == 1 && plan.Type is not null && IsConcreteResourceType(plan.Type))
                {
                    if (plan.Request.IfNoneExist is { Length: > 0 } criteria
                        && await FindConditionalMatchAsync(scope, plan.Type, FhirRequest.ParseQuery(criteria), "ifNoneExist", request.BaseUrl, ct, plan.Entry.Resource) is { } match)
                    {
                        plan.TargetId = match.Id;
                        plan.Existing = FromStored(match) with { Status = 200 };
                    }

                    plan.TargetId ??= NewId();
                }
                else if (method == Bundle.HTTPVerb.PUT && plan.Type is not null && IsConcreteResourceType(plan.Type))
                {
                    if (segments.Length == 1 && plan.Request.Query.Count > 0)
                    {
                        var match = await FindConditionalMatchAsync(scope, plan.Type, plan.Request.Query, "The conditional update", request.BaseUrl, ct, plan.Entry.Resource);
                        plan.TargetId = match?.Id ?? plan.Entry.Resource?.Id ?? NewId();
                    }
                    else if (segments.Length == 2)
                    {
                        if (!Resources.ResourceWriter.IsValidId(segments[1]))
                        {
                            throw FhirException.BadRequest($"'{segments[1]}' is not a valid resource id.", $"{plan.Type}.id");
                        }

                        plan.TargetId = segments[1];
                    }
                }
                else
                {
                    continue;
                }

                if (plan.TargetId is not null && plan.Existing is null && !targets.Add($"{plan.Type}/{plan.TargetId}"))
                {
                    throw FhirException.BadRequest($"{plan.Type}/{plan.TargetId} is written by more than one entry of the transaction.");
                }

                if (plan.Entry.FullUrl is { Length: > 0 } fullUrl && plan.TargetId is not null)
                {
                    map[fullUrl] = $"{plan.Type}/{plan.TargetId}";
                }
            }
            catch (FhirException e)
            {
                throw Annotate(e, plan.Index);
            }
        }

        return map;
    }

    private async System.Threading.Tasks.Task RewriteReferencesAsync(WriteScope scope, Resource resource, Dictionary<string, string> map, int index, string baseUrl, CancellationToken ct)
    {
        foreach (var reference in References(resource))
        {
            var value = reference.Reference;
            if (string.IsNullOrEmpty(value) || value.StartsWith('#'))
            {
                continue;
            }

            if (map.TryGetValue(value, out var mapped))
            {
                reference.Reference = mapped;
                continue;
            }

            if (OwnRelative(value, baseUrl) is { } relative)
            {
                reference.Reference = relative;
                continue;
            }

            if (value.StartsWith("urn:uuid:", StringComparison.Ordinal) || value.StartsWith("urn:oid:", StringComparison.Ordinal))
            {
                throw Annotate(FhirException.BadRequest($"The reference '{value}' names no entry of the transaction.", null), index);
            }

            var q = value.IndexOf('?', StringComparison.Ordinal);
            if (q > 0 && IsConcreteResourceType(value[..q]))
            {
                var type = value[..q];
                var matches = await FindMatchesAsync(scope, type, FhirRequest.ParseQuery(value[(q + 1)..]), baseUrl, ct);
                if (matches.Count != 1)
                {
                    throw Annotate(FhirException.PreconditionFailed($"The conditional reference '{value}' matches {(matches.Count == 0 ? "no" : "more than one")} {type}; it must match exactly one."), index);
                }

                reference.Reference = $"{type}/{matches[0].Id}";
            }
        }
    }

    /// <summary>
    /// Makes references by this server's own full URL relative (<c>[base]/Patient/23</c> becomes <c>Patient/23</c>), as
    /// the server keeps them: a relative Type/id stands for this server's resource in searches, includes and the
    /// patient compartment, while an absolute URL names a resource on the server it points at.
    /// </summary>
    private static void RelativiseOwnReferences(Resource resource, string baseUrl)
    {
        foreach (var reference in References(resource))
        {
            if (reference.Reference is { } value && OwnRelative(value, baseUrl) is { } relative)
            {
                reference.Reference = relative;
            }
        }
    }

    /// <summary>The relative form of a reference by this server's full URL to a resource (Type/id), or null.</summary>
    private static string? OwnRelative(string reference, string baseUrl)
    {
        var root = baseUrl.TrimEnd('/') + "/";
        return reference.Length > root.Length && reference.StartsWith(root, StringComparison.Ordinal)
            && ResourceIndexer.SplitReference(reference[root.Length..]).Type is not null
            ? reference[root.Length..]
            : null;
    }

    /// <summary>Every Reference in a resource, contained resources included.</summary>
    private static IEnumerable<ResourceReference> References(Base root)
    {
        var stack = new Stack<Base>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (node is ResourceReference reference)
            {
                yield return reference;
            }

            foreach (var (_, value) in node.EnumerateElements())
            {
                switch (value)
                {
                    case Base child:
                        stack.Push(child);
                        break;
                    case IEnumerable<Base> children:
                        foreach (var c in children)
                        {
                            stack.Push(c);
                        }

                        break;
                }
            }
        }
    }

    private async Task<Bundle> BatchAsync(Bundle bundle, FhirRequest request, CancellationToken ct)
    {
        var response = new Bundle { Id = NewId(), Type = Bundle.BundleType.BatchResponse, Meta = new Meta { LastUpdated = DateTimeOffset.UtcNow } };
        for (var i = 0; i < bundle.Entry.Count; i++)
        {
            EntryPlan? plan = null;
            FhirResponse result;
            try
            {
                plan = Plan(bundle.Entry[i], i, request);
                result = await DispatchAsync(plan.Request, null, ct);
            }
            catch (FhirException e)
            {
                result = new FhirResponse { Status = e.Status, Outcome = e.Outcome };
            }

            response.Entry.Add(ResponseEntry(result, plan, request));
        }

        return response;
    }

    private static Bundle.EntryComponent ResponseEntry(FhirResponse result, EntryPlan? plan, FhirRequest request)
    {
        var entry = new Bundle.EntryComponent
        {
            Response = new Bundle.ResponseComponent
            {
                Status = $"{result.Status.ToString(CultureInfo.InvariantCulture)} {StatusText(result.Status)}",
                Etag = result.ETag,
                LastModified = result.LastModified,
                Outcome = result.Outcome,
            },
        };
        var isRead = plan?.Entry.Request?.Method is Bundle.HTTPVerb.GET or Bundle.HTTPVerb.HEAD;
        if (result.Version is not null && !isRead && result.Status is 200 or 201)
        {
            entry.Response.Location = $"{result.ResourceType}/{result.Id}/_history/{result.Version.Value.ToString(CultureInfo.InvariantCulture)}";
        }

        if (result.ResourceType is not null && result.Id is not null && result.Status < 300)
        {
            entry.FullUrl = $"{request.BaseUrl.TrimEnd('/')}/{result.ResourceType}/{result.Id}";
        }

        var wantBody = isRead || request.PreferReturn == "representation";
        if (wantBody && result.Status < 300 && (result.Resource is not null || result.Json is not null))
        {
            entry.Resource = Materialise(result);
        }
        else if (request.PreferReturn == "OperationOutcome" && result.Outcome is null && result.Status < 300)
        {
            entry.Response.Outcome = Outcomes.Information($"{StatusText(result.Status)}.");
        }

        return entry;
    }

    private static FhirException Annotate(FhirException e, int index)
    {
        foreach (var issue in e.Outcome.Issue)
        {
            if (issue.Diagnostics is { } d && !d.StartsWith("Bundle.entry[", StringComparison.Ordinal))
            {
                issue.Diagnostics = $"Bundle.entry[{index}]: {d}";
            }

            var prefix = $"Bundle.entry[{index}]";
            issue.Expression = !issue.Expression.Any()
                ? [prefix]
                : issue.Expression.Select(x => x is null || x.StartsWith("Bundle.", StringComparison.Ordinal) ? x : $"{prefix}.resource.{x}").ToList();
        }

        return e;
    }

    /// <summary>The reason phrase for a status, as written in bundle entry responses.</summary>
    public static string StatusText(int status) => status switch
    {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        412 => "Precondition Failed",
        422 => "Unprocessable Entity",
        _ => string.Empty,
    };
}
