using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Operations;
using Tessera.RecordStore.Serialization;

namespace Tessera.RecordStore.Capabilities;

/// <summary>
/// The CapabilityStatement, generated from the same tables the server routes and searches with, so that it
/// says what the server does and no more.
/// </summary>
public static class CapabilityStatementBuilder
{
    private static readonly ConcurrentDictionary<string, string> Cache = new(StringComparer.Ordinal);

    public static readonly string SoftwareVersion = typeof(CapabilityStatementBuilder).Assembly.GetName().Version?.ToString(3) ?? "0.1.0";

    public static CapabilityStatement Build(string baseUrl, SearchParameterRegistry registry, OperationRegistry operations)
    {
        var names = string.Join(",", operations.All.Select(o => o.Name));
        var json = Cache.GetOrAdd(baseUrl + "|" + registry.CacheKey + "|" + names, _ => FhirSerialization.ToJson(Create(baseUrl, registry, operations)));
        return (CapabilityStatement)FhirSerialization.ParseStored(json);
    }

    private static CapabilityStatement Create(string baseUrl, SearchParameterRegistry registry, OperationRegistry operations)
    {
        var rest = new CapabilityStatement.RestComponent
        {
            Mode = CapabilityStatement.RestfulCapabilityMode.Server,
            Documentation = "Tessera FHIR R4 record store: every version kept, conditional interactions atomic, transactions all-or-nothing.",
            Interaction =
            [
                new() { Code = CapabilityStatement.SystemRestfulInteraction.Transaction },
                new() { Code = CapabilityStatement.SystemRestfulInteraction.Batch },
                new() { Code = CapabilityStatement.SystemRestfulInteraction.HistorySystem },
            ],
        };
        foreach (var operation in operations.All.Where(o => (o.Levels & OperationLevel.System) != 0))
        {
            rest.Operation.Add(Describe(operation));
        }

        foreach (var common in SearchParameterRegistry.CommonParameters)
        {
            rest.SearchParam.Add(new CapabilityStatement.SearchParamComponent { Name = common.Code, Definition = common.Url, Type = common.Type });
        }

        foreach (var type in ModelInfo.SupportedResources.Where(t => t is not ("Resource" or "DomainResource")).Order(StringComparer.Ordinal))
        {
            var resource = new CapabilityStatement.ResourceComponent
            {
                Type = type,
                Profile = $"http://hl7.org/fhir/StructureDefinition/{type}",
                Versioning = CapabilityStatement.ResourceVersionPolicy.VersionedUpdate,
                ReadHistory = true,
                UpdateCreate = true,
                ConditionalCreate = true,
                ConditionalRead = CapabilityStatement.ConditionalReadStatus.NotSupported,
                ConditionalUpdate = true,
                ConditionalDelete = CapabilityStatement.ConditionalDeleteStatus.Single,
                Interaction =
                [
                    new() { Code = CapabilityStatement.TypeRestfulInteraction.Read },
                    new() { Code = CapabilityStatement.TypeRestfulInteraction.Vread },
                    new() { Code = CapabilityStatement.TypeRestfulInteraction.Update },
                    new() { Code = CapabilityStatement.TypeRestfulInteraction.Patch },
                    new() { Code = CapabilityStatement.TypeRestfulInteraction.Delete },
                    new() { Code = CapabilityStatement.TypeRestfulInteraction.HistoryInstance },
                    new() { Code = CapabilityStatement.TypeRestfulInteraction.HistoryType },
                    new() { Code = CapabilityStatement.TypeRestfulInteraction.Create },
                    new() { Code = CapabilityStatement.TypeRestfulInteraction.SearchType },
                ],
            };
            var parameters = registry.For(type).Where(p => !p.IsCommon).OrderBy(p => p.Code, StringComparer.Ordinal).ToList();
            foreach (var p in parameters)
            {
                resource.SearchParam.Add(new CapabilityStatement.SearchParamComponent { Name = p.Code, Definition = p.Url, Type = p.Type });
            }

            var references = parameters.Where(p => p.Type == SearchParamType.Reference).ToList();
            if (references.Count > 0)
            {
                resource.SearchInclude = ["*", .. references.Select(p => $"{type}:{p.Code}")];
            }

            foreach (var operation in operations.All.Where(o => (o.Levels & (OperationLevel.Type | OperationLevel.Instance)) != 0 && (o.ResourceTypes.Count == 0 || o.ResourceTypes.Contains(type))))
            {
                resource.Operation.Add(Describe(operation));
            }

            rest.Resource.Add(resource);
        }

        return new CapabilityStatement
        {
            Url = baseUrl.TrimEnd('/') + "/metadata",
            Name = "Tessera",
            Title = "Tessera integrated care record — FHIR R4 server",
            Status = PublicationStatus.Active,
            Date = "2026-11-23",
            Publisher = "Tessera",
            Kind = CapabilityStatementKind.Instance,
            Software = new CapabilityStatement.SoftwareComponent { Name = "Tessera", Version = SoftwareVersion },
            Implementation = new CapabilityStatement.ImplementationComponent { Description = "Tessera record store", Url = baseUrl },
            FhirVersion = FHIRVersion.N4_0_1,
            Format = ["application/fhir+json", "application/fhir+xml", "json", "xml"],
            PatchFormat = ["application/json-patch+json", "application/fhir+json", "application/fhir+xml"],
            Rest = [rest],
        };
    }

    private static CapabilityStatement.OperationComponent Describe(FhirOperation operation) => new()
    {
        Name = operation.Name,
        Definition = operation.Definition ?? $"urn:tessera:operation:{operation.Name}",
        Documentation = operation.Documentation,
    };
}
