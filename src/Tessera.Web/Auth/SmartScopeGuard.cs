using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;

namespace Tessera.Web.Auth;

/// <summary>
/// Limits every authenticated interaction to what the token's SMART scopes grant: the resource type and the
/// interaction (create, read, update, delete, search), and — when only patient/ scopes grant it — the compartment
/// of the token's patient: searches are confined to it, reads and writes outside it are refused (403), and
/// resources a search or $everything would include from outside it are left out.
/// </summary>
internal sealed class SmartScopeGuard : FhirRequestGuard
{
    public override async ValueTask<FhirRequest> BeforeAsync(FhirStore store, FhirRequest request, CancellationToken ct)
    {
        var grant = SmartGrant.From(request.Principal!);
        var segments = request.Path.Length == 0 ? [] : request.Path.Split('/');
        var method = request.Method;
        switch (segments)
        {
            case []:
                // A batch or transaction: each entry is checked on its own. A search on the base needs every type.
                return method == "POST" ? request : Require(grant, "*", ScopePermissions.Search, request, unconfinedOnly: true);
            case ["metadata"]:
                return request;
            case ["_history"]:
                return Require(grant, "*", ScopePermissions.Search, request, unconfinedOnly: true);
            case [var op] when op.StartsWith('$'):
                return Require(grant, "*", OperationPermission(store, op, method), request, unconfinedOnly: true);
        }

        var type = segments[0];
        if (segments.Length == 1 || segments is [_, "_search"])
        {
            return method switch
            {
                "GET" or "HEAD" or "POST" when segments.Length == 2 => ConfineSearch(grant, type, request),
                "GET" or "HEAD" => ConfineSearch(grant, type, request),
                "POST" => await CheckCreateAsync(store, grant, type, request),
                "PUT" => Require(grant, type, ScopePermissions.Update, request, unconfinedOnly: true, "Conditional update"),
                "PATCH" => Require(grant, type, ScopePermissions.Update, request, unconfinedOnly: true, "Conditional patch"),
                "DELETE" => Require(grant, type, ScopePermissions.Delete, request, unconfinedOnly: true, "Conditional delete"),
                _ => request,
            };
        }

        var id = segments[1];
        switch (segments)
        {
            case [_, "_history"]:
                return Require(grant, type, ScopePermissions.Search, request, unconfinedOnly: true, "History of a whole type");
            case [_, var typeOp] when typeOp.StartsWith('$'):
                return Require(grant, type, OperationPermission(store, typeOp, method), request, unconfinedOnly: true, $"{typeOp} on a whole type");
            case ["Patient", _, var compartmentType] when !compartmentType.StartsWith('$') && compartmentType != "_history":
                {
                    var reach = RequireReach(grant, compartmentType, ScopePermissions.Search);
                    if (reach == ScopeReach.PatientCompartment)
                    {
                        RequireOwnPatient(grant, id);
                        return Mark(request);
                    }

                    return request;
                }

            case ["Patient", _, var instanceOp] when instanceOp.StartsWith('$'):
                {
                    var reach = RequireReach(grant, "Patient", OperationPermission(store, instanceOp, method));
                    if (reach == ScopeReach.PatientCompartment)
                    {
                        RequireOwnPatient(grant, id);
                        return Mark(request);
                    }

                    return request;
                }

            case [_, _, var instanceOp] when instanceOp.StartsWith('$'):
                return Require(grant, type, OperationPermission(store, instanceOp, method), request, unconfinedOnly: true, $"{instanceOp} on a {type} outside the Patient resource");
        }

        // Type/id, Type/id/_history, Type/id/_history/vid.
        var permission = method switch
        {
            "GET" or "HEAD" => ScopePermissions.Read,
            "PUT" => ScopePermissions.Update,
            "PATCH" => ScopePermissions.Update,
            "DELETE" => ScopePermissions.Delete,
            _ => ScopePermissions.Read,
        };
        var confined = RequireReach(grant, type, permission) == ScopeReach.PatientCompartment && InCompartment(type);
        if (!confined)
        {
            return request;
        }

        switch (method)
        {
            case "PATCH":
                throw Refused($"A token with only patient/ scopes cannot PATCH (the patch could move the resource out of patient {grant.Patient}'s record); send the whole resource with PUT.");
            case "PUT":
                RequireInCompartment(store, grant, request.Resource);
                await RequireExistingInCompartmentAsync(store, grant, type, id, ct);
                return request;
            case "DELETE":
                await RequireExistingInCompartmentAsync(store, grant, type, id, ct);
                return request;
            default:
                return Mark(request);
        }
    }

    public override ValueTask<FhirResponse> AfterAsync(FhirStore store, FhirRequest request, FhirResponse response, CancellationToken ct)
    {
        if (request.Principal is null)
        {
            return ValueTask.FromResult(response);
        }

        var grant = SmartGrant.From(request.Principal);
        var confined = ConfinedByMark.TryGetValue(request, out _);
        if (response.HasRawBody)
        {
            response.Body!.Entries.RemoveAll(e => e.Mode != Bundle.SearchEntryMode.Outcome && !Visible(store, grant, e.ResourceType, e.Materialise));
            return ValueTask.FromResult(response);
        }

        if (response.Resource is Bundle bundle && (bundle.Type is Bundle.BundleType.Searchset or Bundle.BundleType.History or Bundle.BundleType.Collection))
        {
            bundle.Entry.RemoveAll(e => e.Resource is { } r && r is not OperationOutcome && !Visible(store, grant, r.TypeName, () => r));
            return ValueTask.FromResult(response);
        }

        if (confined && response.IsResourceBody && response.ResourceType is { } type && InCompartment(type))
        {
            var resource = FhirStore.Materialise(response);
            if (store.CompartmentPatientOf(resource) != grant.Patient)
            {
                throw Refused($"{type}/{resource.Id} is not in the record of patient {grant.Patient}, the only patient this token's patient/ scopes reach.");
            }
        }

        return ValueTask.FromResult(response);
    }

    /// <summary>Whether an entry of a bundle the caller asked for may be shown: its type is granted and, when confined, it is the patient's.</summary>
    private static bool Visible(FhirStore store, SmartGrant grant, string type, Func<Resource> resource)
    {
        var reach = (ScopeReach)Math.Max((int)grant.Reach(type, ScopePermissions.Read), (int)grant.Reach(type, ScopePermissions.Search));
        return reach switch
        {
            ScopeReach.None => false,
            ScopeReach.PatientCompartment when InCompartment(type) => grant.Patient is not null && store.CompartmentPatientOf(resource()) == grant.Patient,
            _ => true,
        };
    }

    // Requests are records: a marked request is found again by reference in AfterAsync.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<FhirRequest, object> ConfinedByMark = [];

    private static FhirRequest Mark(FhirRequest request)
    {
        ConfinedByMark.AddOrUpdate(request, true);
        return request;
    }

    private static FhirRequest ConfineSearch(SmartGrant grant, string type, FhirRequest request)
    {
        var reach = RequireReach(grant, type, ScopePermissions.Search);
        if (reach != ScopeReach.PatientCompartment || !InCompartment(type))
        {
            return request;
        }

        var patient = RequirePatient(grant);
        // Patient/<id>/<type> is the compartment search; the store files every compartment row under its patient.
        return Mark(request with { Method = "GET", Path = $"Patient/{patient}/{type}" });
    }

    private static async Task<FhirRequest> CheckCreateAsync(FhirStore store, SmartGrant grant, string type, FhirRequest request)
    {
        if (RequireReach(grant, type, ScopePermissions.Create) == ScopeReach.PatientCompartment && InCompartment(type))
        {
            if (request.IfNoneExist is not null)
            {
                throw Refused("A token with only patient/ scopes cannot make a conditional create; create the resource without If-None-Exist.");
            }

            RequireInCompartment(store, grant, request.Resource);
        }

        await System.Threading.Tasks.Task.CompletedTask;
        return request;
    }

    private static void RequireInCompartment(FhirStore store, SmartGrant grant, Resource? resource)
    {
        if (resource is not null && store.CompartmentPatientOf(resource) != RequirePatient(grant))
        {
            throw Refused($"The {resource.TypeName} is not in the record of patient {grant.Patient}, the only patient this token's patient/ scopes reach.");
        }
    }

    private static async System.Threading.Tasks.Task RequireExistingInCompartmentAsync(FhirStore store, SmartGrant grant, string type, string id, CancellationToken ct)
    {
        var current = await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"{type}/{id}"), ct);
        if (current.Status == 200 && store.CompartmentPatientOf(FhirStore.Materialise(current)) != RequirePatient(grant))
        {
            throw Refused($"{type}/{id} is not in the record of patient {grant.Patient}, the only patient this token's patient/ scopes reach.");
        }
    }

    private static FhirRequest Require(SmartGrant grant, string type, ScopePermissions permission, FhirRequest request, bool unconfinedOnly, string? what = null)
    {
        var reach = RequireReach(grant, type, permission);
        if (unconfinedOnly && reach == ScopeReach.PatientCompartment && InCompartment(type))
        {
            throw Refused($"{what ?? "This request"} cannot be confined to one patient's record, so it needs a user/ or system/ scope; this token's scopes for {type} are patient/ scopes.");
        }

        return request;
    }

    private static ScopeReach RequireReach(SmartGrant grant, string type, ScopePermissions permission)
    {
        var reach = grant.Reach(type, permission);
        return reach == ScopeReach.None
            ? throw Refused($"The access token's scopes do not allow {Describe(permission)} {(type == "*" ? "every resource type" : type)}; it needs a scope such as user/{type}.{Letter(permission)} (a person) or system/{type}.{Letter(permission)} (a system).")
            : reach;
    }

    private static void RequireOwnPatient(SmartGrant grant, string patient)
    {
        if (patient != RequirePatient(grant))
        {
            throw Refused($"This token's patient/ scopes reach only the record of patient {grant.Patient}, not Patient/{patient}.");
        }
    }

    private static string RequirePatient(SmartGrant grant) =>
        grant.Patient ?? throw Refused("The token has patient/ scopes but no patient in context; sign in again with launch/patient or from an EHR launch.");

    private static bool InCompartment(string type) => FhirStore.IsPatientCompartmentType(type);

    private static ScopePermissions OperationPermission(FhirStore store, string op, string method)
    {
        var name = op[1..];
        var affectsState = store.Operations.All.FirstOrDefault(o => o.Name == name)?.AffectsState ?? method != "GET";
        return affectsState && method != "GET" ? ScopePermissions.Update : ScopePermissions.Read;
    }

    private static string Describe(ScopePermissions p) => p switch
    {
        ScopePermissions.Create => "creating",
        ScopePermissions.Read => "reading",
        ScopePermissions.Update => "updating",
        ScopePermissions.Delete => "deleting",
        _ => "searching",
    };

    private static char Letter(ScopePermissions p) => p switch
    {
        ScopePermissions.Create => 'c',
        ScopePermissions.Read => 'r',
        ScopePermissions.Update => 'u',
        ScopePermissions.Delete => 'd',
        _ => 's',
    };

    private static FhirException Refused(string message) =>
        new(403, Outcomes.Error(OperationOutcome.IssueType.Forbidden, message));
}
