using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Capabilities;
using Tessera.RecordStore.History;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;
using Tessera.RecordStore.Patching;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Search;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore;

/// <summary>Routing of interactions (FHIR R4 RESTful API, 3.1.0) to reads, writes, history and search.</summary>
public sealed partial class FhirStore
{
    /// <summary>Runs one interaction: decided and recorded by the access policy, then checked by the guards, when it carries a caller.</summary>
    internal Task<FhirResponse> DispatchAsync(FhirRequest request, WriteScope? scope, CancellationToken ct) =>
        GovernAsync(request, scope, s => GuardedDispatchAsync(request, s, ct), ct);

    private async Task<FhirResponse> DispatchCoreAsync(FhirRequest request, WriteScope? scope, CancellationToken ct)
    {
        var segments = request.Path.Length == 0 ? [] : request.Path.Split('/');
        var method = request.Method;
        switch (segments.Length)
        {
            case 0:
                return method switch
                {
                    "POST" => await ProcessBundleAsync(request, ct),
                    "GET" when request.Query.Count == 0 => throw FhirException.BadRequest("Name a resource type to search, for example GET [base]/Patient?name=smith."),
                    _ => throw FhirException.MethodNotAllowed($"{method} is not supported on the FHIR base; POST a batch or transaction Bundle."),
                };
            case 1 when segments[0] == "metadata":
                return method == "GET" ? new FhirResponse { Resource = CapabilityStatementBuilder.Build(request.BaseUrl, Registry, Operations) } : throw FhirException.MethodNotAllowed("metadata only answers GET.");
            case 1 when segments[0] == "_history":
                return method == "GET" ? await HistoryAsync(request, null, null, ct) : throw FhirException.MethodNotAllowed("_history only answers GET.");
            case 1 when segments[0].StartsWith('$'):
                return await InvokeOperationAsync(request, segments[0][1..], OperationLevel.System, null, null, scope, ct);
        }

        var type = segments[0];
        if (!IsConcreteResourceType(type))
        {
            throw new FhirException(404, Outcomes.Error(OperationOutcome.IssueType.NotSupported, $"'{type}' is not a FHIR R4 resource type this server supports."));
        }

        if (segments.Length == 1)
        {
            return method switch
            {
                "GET" or "HEAD" => await SearchAsync(request, type, null, scope, ct),
                "POST" => await CreateAsync(request, type, scope, ct),
                "PUT" => await ConditionalAsync(request, type, scope, ct),
                "DELETE" => await ConditionalAsync(request, type, scope, ct),
                "PATCH" => await ConditionalAsync(request, type, scope, ct),
                _ => throw FhirException.MethodNotAllowed($"{method} is not supported on [base]/{type}."),
            };
        }

        var second = segments[1];
        if (segments.Length == 2)
        {
            if (second == "_search")
            {
                return method == "POST" ? await SearchAsync(request, type, null, scope, ct) : throw FhirException.MethodNotAllowed("_search takes POST; use GET [base]/" + type + "?... otherwise.");
            }

            if (second == "_history")
            {
                return method == "GET" ? await HistoryAsync(request, type, null, ct) : throw FhirException.MethodNotAllowed("_history only answers GET.");
            }

            if (second.StartsWith('$'))
            {
                return await InvokeOperationAsync(request, second[1..], OperationLevel.Type, type, null, scope, ct);
            }

            RequireValidId(second, type);
            return method switch
            {
                "GET" or "HEAD" => await ReadAsync(request, type, second, scope, ct),
                "PUT" => await UpdateAsync(request, type, second, scope, ct),
                "DELETE" => await InWriteAsync(scope, s => _writer.DeleteAsync(s, type, second, ct), ct),
                "PATCH" => await PatchAsync(request, type, second, scope, ct),
                _ => throw FhirException.MethodNotAllowed($"{method} is not supported on [base]/{type}/[id]."),
            };
        }

        RequireValidId(second, type);
        if (segments.Length == 3 && segments[2].StartsWith('$'))
        {
            return await InvokeOperationAsync(request, segments[2][1..], OperationLevel.Instance, type, second, scope, ct);
        }

        if (segments.Length == 3 && segments[2] == "_history" && method == "GET")
        {
            return await HistoryAsync(request, type, second, ct);
        }

        if (segments.Length == 4 && segments[2] == "_history" && method is "GET" or "HEAD")
        {
            return await VReadAsync(type, second, segments[3], scope, ct);
        }

        if (segments.Length == 3 && type == "Patient" && IsConcreteResourceType(segments[2]) && method == "GET")
        {
            // Compartment search: Patient/123/Observation.
            return await SearchAsync(request, segments[2], second, scope, ct);
        }

        throw new FhirException(404, Outcomes.Error(OperationOutcome.IssueType.NotSupported, $"No FHIR interaction answers {method} [base]/{request.Path}."));
    }

    private async Task<FhirResponse> InvokeOperationAsync(FhirRequest request, string name, OperationLevel level, string? type, string? id, WriteScope? scope, CancellationToken ct)
    {
        var operation = Operations.Find(name, level, type);
        var invocation = new OperationInvocation
        {
            Store = this,
            Request = request,
            Level = level,
            ResourceType = type,
            Id = id,
            Parameters = OperationRegistry.InputOf(request, operation),
            Transaction = scope is null ? null : new Machinery.StoreTransaction(scope, _dialect.Kind) { Dialect = _dialect },
        };
        return await operation.ExecuteAsync(invocation, ct);
    }

    private static void RequireValidId(string id, string type)
    {
        if (!ResourceWriter.IsValidId(id))
        {
            throw FhirException.BadRequest($"'{id}' is not a valid resource id: ids are 1 to 64 letters, digits, '-' and '.'.", $"{type}.id");
        }
    }

    private static Resource RequireBody(FhirRequest request, string type)
    {
        var resource = request.Resource ?? throw FhirException.BadRequest($"The request has no body: send the {type} resource.", null, OperationOutcome.IssueType.Required);
        if (resource.TypeName != type)
        {
            throw FhirException.BadRequest($"The body is a {resource.TypeName}, but the URL is for {type}.", "resourceType");
        }

        RelativiseOwnReferences(resource, request.BaseUrl);
        return resource;
    }

    private async Task<FhirResponse> ReadAsync(FhirRequest request, string type, string id, WriteScope? scope, CancellationToken ct)
    {
        StoredVersion? stored;
        bool visible;
        if (scope is not null)
        {
            (stored, visible) = await _repository.ReadCurrentAsync(scope.Connection, scope.Transaction, type, id, Filter, ct);
        }
        else
        {
            await using var connection = await _dialect.OpenAsync(ct);
            (stored, visible) = await _repository.ReadCurrentAsync(connection, null, type, id, Filter, ct);
        }

        if (stored is { Version: > 0, Deleted: false } && !visible)
        {
            throw Forbidden(type, id);
        }

        if (stored is null || stored.Version == 0)
        {
            throw FhirException.NotFound($"{type}/{id} is not known.");
        }

        if (stored.Deleted)
        {
            throw new FhirException(410, Outcomes.Error(OperationOutcome.IssueType.Deleted, $"{type}/{id} was deleted (version {stored.Version})."));
        }

        if (request.IfNoneMatch is not null && ParseETag(request.IfNoneMatch, "If-None-Match") == stored.Version)
        {
            return new FhirResponse { Status = 304, ResourceType = type, Id = id, Version = stored.Version, LastModified = stored.LastUpdated };
        }

        if (request.IfModifiedSince is { } since && stored.LastUpdated.ToUnixTimeSeconds() <= since.ToUnixTimeSeconds())
        {
            return new FhirResponse { Status = 304, ResourceType = type, Id = id, Version = stored.Version, LastModified = stored.LastUpdated };
        }

        return FromStored(stored);
    }

    private async Task<FhirResponse> VReadAsync(string type, string id, string vid, WriteScope? scope, CancellationToken ct)
    {
        if (!long.TryParse(vid, NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version < 1)
        {
            throw FhirException.BadRequest($"'{vid}' is not a version id of this server: versions are whole numbers from 1.", "meta.versionId");
        }

        StoredVersion? stored;
        bool visible;
        if (scope is not null)
        {
            (stored, visible) = await _repository.ReadVersionAsync(scope.Connection, scope.Transaction, type, id, version, Filter, ct);
        }
        else
        {
            await using var connection = await _dialect.OpenAsync(ct);
            (stored, visible) = await _repository.ReadVersionAsync(connection, null, type, id, version, Filter, ct);
        }

        if (stored is not null && !visible)
        {
            throw Forbidden(type, id);
        }

        if (stored is null)
        {
            throw FhirException.NotFound($"{type}/{id} has no version {version}.");
        }

        if (stored.Deleted)
        {
            throw new FhirException(410, Outcomes.Error(OperationOutcome.IssueType.Deleted, $"Version {version} of {type}/{id} is its deletion."));
        }

        return FromStored(stored);
    }

    private static FhirResponse FromStored(StoredVersion stored) => new()
    {
        Json = stored.Json,
        ResourceType = stored.ResourceType,
        Id = stored.Id,
        Version = stored.Version,
        PatientKey = stored.PatientKey,
        LastModified = stored.LastUpdated,
    };

    private async Task<FhirResponse> CreateAsync(FhirRequest request, string type, WriteScope? scope, CancellationToken ct)
    {
        var resource = RequireBody(request, type);
        var response = await InWriteAsync(scope, async s =>
        {
            if (WithoutTypePrefix(request.IfNoneExist) is { Length: > 0 } criteria
                && await FindConditionalMatchAsync(s, type, FhirRequest.ParseQuery(criteria), "If-None-Exist", request.BaseUrl, ct, resource) is { } match)
            {
                return FromStored(match) with { Status = 200 };
            }

            // The new version (its id is new, so no other writer can collide with it) goes to the database with the
            // commit, together with the rest of the transaction (its audit record): one round trip fewer.
            if (s.MayHold)
            {
                s.Defer();
            }

            return await _writer.CreateAsync(s, resource, null, ct);
        }, ct, hold: true);
        LogWrite(response);
        return response;
    }

    private async Task<FhirResponse> UpdateAsync(FhirRequest request, string type, string id, WriteScope? scope, CancellationToken ct)
    {
        var resource = RequireBody(request, type);
        if (resource.Id is null)
        {
            throw FhirException.BadRequest($"The {type} has no id: an update must carry the id of the URL ({id}) in {type}.id.", $"{type}.id", OperationOutcome.IssueType.Required);
        }

        if (resource.Id != id)
        {
            throw FhirException.BadRequest($"The {type}'s id '{resource.Id}' does not match the id in the URL ('{id}').", $"{type}.id");
        }

        var ifMatch = request.IfMatch is null ? (long?)null : ParseETag(request.IfMatch, "If-Match");
        var response = await InWriteAsync(scope, s => _writer.UpdateAsync(s, resource, id, ifMatch, "PUT", ct), ct);
        LogWrite(response);
        return response;
    }

    private async Task<FhirResponse> PatchAsync(FhirRequest request, string type, string id, WriteScope? scope, CancellationToken ct)
    {
        var ifMatch = request.IfMatch is null ? (long?)null : ParseETag(request.IfMatch, "If-Match");
        return await InWriteAsync(scope, async s =>
        {
            var current = await _repository.ReadCurrentAsync(s.Connection, s.Transaction, type, id, ct);
            if (current is null || current.Version == 0)
            {
                throw FhirException.NotFound($"{type}/{id} is not known; a patch needs an existing resource.");
            }

            if (current.Deleted || current.Json is null)
            {
                throw FhirException.Gone($"{type}/{id} was deleted; it cannot be patched.");
            }

            var patched = PatchApplier.Apply(current.Json, request);
            RelativiseOwnReferences(patched, request.BaseUrl);
            if (patched.TypeName != type || patched.Id != id)
            {
                throw FhirException.Unprocessable("A patch may not change the resource's type or id.", $"{type}.id");
            }

            return await _writer.UpdateAsync(s, patched, id, ifMatch ?? current.Version, "PATCH", ct);
        }, ct);
    }

    /// <summary>Conditional update, delete and patch: [base]/Type?criteria.</summary>
    private async Task<FhirResponse> ConditionalAsync(FhirRequest request, string type, WriteScope? scope, CancellationToken ct)
    {
        if (request.Query.Count == 0)
        {
            throw FhirException.BadRequest($"Conditional {request.Method.ToLowerInvariant()} needs search criteria, as in {request.Method} [base]/{type}?identifier=system|value.");
        }

        return await InWriteAsync(scope, async s =>
        {
            var interaction = request.Method switch
            {
                "DELETE" => "delete",
                "PATCH" => "patch",
                _ => "update",
            };
            var match = await FindConditionalMatchAsync(s, type, request.Query, $"The conditional {interaction}", request.BaseUrl, ct, request.Resource);
            switch (request.Method)
            {
                case "DELETE":
                    return match is null
                        ? new FhirResponse { Status = 204 }
                        : await _writer.DeleteAsync(s, type, match.Id, ct);
                case "PATCH":
                    if (match is null)
                    {
                        throw FhirException.NotFound($"No {type} matches the criteria; nothing to patch.");
                    }

                    return await PatchAsync(request with { Path = $"{type}/{match.Id}", Query = [] }, type, match.Id, s, ct);
                default:
                    var resource = RequireBody(request, type);
                    if (match is not null)
                    {
                        if (resource.Id is not null && resource.Id != match.Id)
                        {
                            throw FhirException.BadRequest($"The criteria match {type}/{match.Id}, but the body's id is '{resource.Id}'.", $"{type}.id");
                        }

                        var ifMatch = request.IfMatch is null ? (long?)null : ParseETag(request.IfMatch, "If-Match");
                        return await _writer.UpdateAsync(s, resource, match.Id, ifMatch, "PUT", ct);
                    }

                    if (resource.Id is not null)
                    {
                        RequireValidId(resource.Id, type);
                        return await _writer.UpdateAsync(s, resource, resource.Id, null, "PUT", ct);
                    }

                    return await _writer.CreateAsync(s, resource, null, ct);
            }
        }, ct);
    }

    /// <summary>
    /// The one resource that conditional criteria match, or null when none does; 412 when several do. Runs under
    /// locks held to the end of the transaction (<see cref="LockConditionalAsync"/>), so parallel conditional
    /// writes that could match each other's resource cannot both see "no match".
    /// </summary>
    private async Task<StoredVersion?> FindConditionalMatchAsync(WriteScope scope, string type, IReadOnlyList<KeyValuePair<string, string>> criteria, string what, string baseUrl, CancellationToken ct, Resource? body = null)
    {
        await LockConditionalAsync(scope, type, criteria, body, ct);
        var matches = await FindMatchesAsync(scope, type, criteria, baseUrl, ct);
        return matches.Count switch
        {
            0 => null,
            1 => matches[0],
            _ => throw FhirException.PreconditionFailed($"{what} matches {matches.Count} {type} resources; the criteria must identify at most one."),
        };
    }

    /// <summary>
    /// Criteria naming one identifier (<c>identifier=system|value</c>, the form feeds use) lock that identifier and
    /// every identifier the body carries, with the type's lock shared: writes about different identifiers run in
    /// parallel, while a write that could create what another's criteria match (its body carries that identifier)
    /// waits for it. Other criteria take the type's lock alone, waiting for every conditional write of the type.
    /// Keys are taken in order, so two writes never wait for each other's keys.
    /// </summary>
    private async System.Threading.Tasks.Task LockConditionalAsync(WriteScope scope, string type, IReadOnlyList<KeyValuePair<string, string>> criteria, Resource? body, CancellationToken ct)
    {
        var typeKey = "conditional:" + type;
        if (criteria is not [{ Key: "identifier", Value: var token }] || SearchQuery.SplitToken(token) is not ({ Length: > 0 } system, { Length: > 0 } value, true) || token.Contains(',', StringComparison.Ordinal))
        {
            await _dialect.LockKeyAsync(scope.Connection, scope.Transaction, typeKey, ct);
            return;
        }

        var keys = new SortedSet<string>(StringComparer.Ordinal) { IdentifierKey(type, system, value) };
        if (body is IIdentifiable<List<Identifier>> { Identifier: { } carried })
        {
            foreach (var identifier in carried.Where(i => !string.IsNullOrEmpty(i.System) && !string.IsNullOrEmpty(i.Value)))
            {
                keys.Add(IdentifierKey(type, identifier.System!, identifier.Value!));
            }
        }

        await _dialect.LockKeySharedAsync(scope.Connection, scope.Transaction, typeKey, ct);
        foreach (var key in keys)
        {
            await _dialect.LockKeyAsync(scope.Connection, scope.Transaction, key, ct);
        }
    }

    /// <summary>Upper-cased, so identifiers a search would match whatever their case share one key.</summary>
    private static string IdentifierKey(string type, string system, string value) =>
        $"conditional:{type}:identifier:{system}|{value}".ToUpperInvariant();

    /// <summary>Resources matching conditional criteria, seen from inside the write transaction.</summary>
    private async Task<List<StoredVersion>> FindMatchesAsync(WriteScope scope, string type, IReadOnlyList<KeyValuePair<string, string>> criteria, string baseUrl, CancellationToken ct)
    {
        var query = SearchQuery.Parse(type, criteria, Registry, strict: true);
        if (query.Criteria.Count == 0)
        {
            throw FhirException.BadRequest($"The conditional criteria '{string.Join("&", criteria.Select(c => $"{c.Key}={c.Value}"))}' contain no search parameter of {type}.");
        }

        query.Count = 2;
        query.Total = "none";
        var page = await _search.ExecuteAsync(scope.Connection, scope.Transaction, query, baseUrl, ct);
        return page.Matches;
    }

    internal static long ParseETag(string value, string header)
    {
        var v = value.Trim();
        if (v.StartsWith("W/", StringComparison.Ordinal))
        {
            v = v[2..];
        }

        v = v.Trim('"');
        return long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0
            ? version
            : throw FhirException.BadRequest($"{header} must be a version tag such as W/\"3\", not '{value}'.", header);
    }

    private async Task<FhirResponse> HistoryAsync(FhirRequest request, string? type, string? id, CancellationToken ct)
    {
        var query = HistoryReader.Parse(type, id, request.Query);
        await using var connection = await _dialect.OpenAsync(ct);
        if (id is not null)
        {
            var current = await _repository.ReadCurrentAsync(connection, null, type!, id, ct);
            if (current is null || current.Version == 0)
            {
                throw FhirException.NotFound($"{type}/{id} is not known.");
            }

            await RequireVisibleAsync(connection, null, type!, id, ct);
        }

        var page = await HistoryReader.ReadAsync(connection, query, ct);
        return new FhirResponse { Resource = BundleBuilder.History(page, query, request) };
    }

    private async Task<FhirResponse> SearchAsync(FhirRequest request, string type, string? compartmentPatient, WriteScope? scope, CancellationToken ct)
    {
        var query = SearchQuery.Parse(type, request.Query, Registry, request.StrictHandling);
        query.CompartmentPatient = compartmentPatient;
        if (compartmentPatient is not null)
        {
            RequireValidId(compartmentPatient, "Patient");
            if (type != "Patient" && !Indexing.PatientCompartment.IsInCompartment(type))
            {
                throw FhirException.BadRequest($"{type} is not in the Patient compartment.");
            }
        }

        SearchPage page;
        if (scope is not null)
        {
            page = await _search.ExecuteAsync(scope.Connection, scope.Transaction, query, request.BaseUrl, ct);
        }
        else
        {
            await using var connection = await _dialect.OpenForSearchAsync(plansAlike: PinnedPatient.AloneDecides(query, Registry), ct);
            page = await _search.ExecuteAsync(connection, null, query, request.BaseUrl, ct);
        }

        return new FhirResponse { Body = BundleBuilder.SearchSet(page, query, request) };
    }

    /// <summary>Parses stored JSON for a response that needs the resource as an object.</summary>
    public static Resource Materialise(FhirResponse response) =>
        response.Resource ?? (response.Json is not null ? FhirSerialization.ParseStored(response.Json) : throw new InvalidOperationException("The response has no resource."));
}
