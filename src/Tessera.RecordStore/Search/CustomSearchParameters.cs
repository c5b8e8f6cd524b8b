using System.Data.Common;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Search;

/// <summary>
/// Custom search parameters: an <c>active</c> SearchParameter resource written to the store (with <c>base</c>,
/// <c>code</c>, <c>type</c> and <c>expression</c>) is validated inside the write's transaction — a bad one rolls the
/// write back with a 422 — and from then on indexes new writes, answers searches and appears in the
/// CapabilityStatement. Deleting it, or making it draft or retired, stops its use. Definitions of R4 core
/// parameters (their core url) are stored but change nothing: the server already has them. The store loads
/// them again when it opens.
/// </summary>
internal sealed partial class CustomSearchParameters(SearchParameterRegistry registry) : IResourceWriteObserver
{
    private static readonly SearchParamType[] Supported =
        [SearchParamType.Number, SearchParamType.Date, SearchParamType.String, SearchParamType.Token, SearchParamType.Reference, SearchParamType.Quantity, SearchParamType.Uri];

    public System.Threading.Tasks.Task OnWrittenAsync(StoreTransaction transaction, string resourceType, string id, Resource? resource, CancellationToken ct)
    {
        if (resourceType == "SearchParameter")
        {
            Apply(id, resource as SearchParameter);
        }

        return System.Threading.Tasks.Task.CompletedTask;
    }

    /// <summary>Registers (or, for a deleted, draft, retired or core one, unregisters) what a SearchParameter defines.</summary>
    public void Apply(string id, SearchParameter? definition)
    {
        if (definition is not null && Define(id, definition) is { } parameters)
        {
            registry.Register(id, parameters);
        }
        else
        {
            registry.Unregister(id);
        }
    }

    /// <summary>Registers every active custom SearchParameter held on the store (at open).</summary>
    public async System.Threading.Tasks.Task LoadAsync(DbConnection connection, ResourceRepository repository, Action<string, Exception> skipped, CancellationToken ct)
    {
        var ids = new List<(string Type, string Id)>();
        await using (var cmd = Db.Command(connection, null, "SELECT id FROM resource WHERE resource_type = 'SearchParameter' AND deleted = 0"))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                ids.Add(("SearchParameter", reader.GetString(0)));
            }
        }

        foreach (var stored in await repository.ReadManyCurrentAsync(connection, null, ids, ct))
        {
            try
            {
                Apply(stored.Id, stored.Json is null ? null : FhirSerialization.ParseStored(stored.Json) as SearchParameter);
            }
            catch (FhirException e)
            {
                // Stored before a clashing definition took its code (or before validation): reported, not fatal.
                skipped(stored.Id, e);
            }
        }
    }

    /// <summary>The parameters an active custom definition adds, one per base; null when it adds none.</summary>
    private List<SearchParam>? Define(string id, SearchParameter sp)
    {
        if (sp.Status != PublicationStatus.Active || SearchParameterRegistry.IsCoreUrl(sp.Url))
        {
            return null;
        }

        if (string.IsNullOrEmpty(sp.Code) || !CodePattern().IsMatch(sp.Code))
        {
            throw FhirException.Unprocessable($"SearchParameter.code '{sp.Code}' is not a valid search parameter name: use letters, digits, '-', '.' and '_', starting with a letter or digit (names starting with '_' are reserved).", "SearchParameter.code");
        }

        if (sp.Type is not { } type)
        {
            throw FhirException.Unprocessable("SearchParameter.type is required.", "SearchParameter.type");
        }

        if (!Supported.Contains(type))
        {
            throw FhirException.Unprocessable($"Custom search parameters of type {type.ToString().ToLowerInvariant()} are not supported; use number, date, string, token, reference, quantity or uri.", "SearchParameter.type");
        }

        if (string.IsNullOrWhiteSpace(sp.Expression))
        {
            throw FhirException.Unprocessable("SearchParameter.expression is required: a FHIRPath expression selecting the values to index.", "SearchParameter.expression");
        }

        if (ResourceIndexer.CompileError(sp.Expression) is { } error)
        {
            throw FhirException.Unprocessable($"SearchParameter.expression '{sp.Expression}' is not valid FHIRPath: {error}", "SearchParameter.expression");
        }

        var bases = sp.Base?.Where(b => b is not null).Select(b => b!.Value.ToString()).ToList() ?? [];
        if (bases.Count == 0)
        {
            throw FhirException.Unprocessable("SearchParameter.base is required: the resource types the parameter applies to.", "SearchParameter.base");
        }

        var targets = sp.Target?.Where(t => t is not null).Select(t => t!.Value.ToString()).ToArray() ?? [];
        var result = new List<SearchParam>();
        foreach (var b in bases)
        {
            if (!ModelInfo.IsKnownResource(b) || b is "Resource" or "DomainResource")
            {
                throw FhirException.Unprocessable($"SearchParameter.base '{b}' is not a concrete FHIR resource type.", "SearchParameter.base");
            }

            if (registry.Find(b, sp.Code) is { } existing && registry.CustomOwner(b, sp.Code) is var owner && owner != id)
            {
                var by = owner is null ? "an R4 core parameter" : $"SearchParameter/{owner}";
                throw FhirException.Unprocessable($"The code '{sp.Code}' is already a search parameter of {b} ({by}, {existing.Url}); choose another code.", "SearchParameter.code");
            }

            var expression = SearchParameterRegistry.NarrowToType(sp.Expression, b) ?? sp.Expression;
            result.Add(new SearchParam(b, sp.Code, type, expression, sp.Url ?? $"SearchParameter/{id}", targets));
        }

        return result;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    private static partial Regex CodePattern();
}
