using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;

namespace Tessera.RecordStore.Operations;

/// <summary>The operations a store answers; the CapabilityStatement lists exactly these.</summary>
public sealed class OperationRegistry
{
    private readonly ConcurrentDictionary<string, FhirOperation> _byName = new(StringComparer.Ordinal);

    /// <summary>Adds an operation; a second operation of the same name is refused.</summary>
    public void Register(FhirOperation operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        if (!_byName.TryAdd(operation.Name, operation))
        {
            throw new InvalidOperationException($"An operation named ${operation.Name} is already registered.");
        }
    }

    public IReadOnlyCollection<FhirOperation> All => [.. _byName.Values.OrderBy(o => o.Name, StringComparer.Ordinal)];

    /// <summary>Version that changes whenever an operation is added, so cached capability statements are rebuilt.</summary>
    internal int Count => _byName.Count;

    internal FhirOperation Find(string name, OperationLevel level, string? type)
    {
        if (!_byName.TryGetValue(name, out var operation) || !operation.Answers(level, type))
        {
            var where = level switch
            {
                OperationLevel.System => "the FHIR base",
                OperationLevel.Type => type,
                _ => $"a {type} instance",
            };
            throw new FhirException(404, Outcomes.Error(OperationOutcome.IssueType.NotSupported, $"The operation ${name} is not supported on {where}; GET [base]/metadata lists the operations this server offers."));
        }

        return operation;
    }

    /// <summary>Builds the operation's input from the request: a Parameters body, a single resource body, or the query.</summary>
    internal static Parameters InputOf(FhirRequest request, FhirOperation operation)
    {
        if (request.Method is "GET" or "HEAD")
        {
            if (operation.AffectsState)
            {
                throw FhirException.MethodNotAllowed($"${operation.Name} changes data, so it must be invoked with POST.");
            }

            var fromQuery = new Parameters();
            foreach (var (key, value) in request.Query)
            {
                fromQuery.Add(key, new FhirString(value));
            }

            return fromQuery;
        }

        if (request.Method != "POST")
        {
            throw FhirException.MethodNotAllowed($"${operation.Name} is invoked with POST{(operation.AffectsState ? string.Empty : " or GET")}, not {request.Method}.");
        }

        var parameters = request.Resource switch
        {
            null => new Parameters(),
            Parameters p => p,
            var single => new Parameters { Parameter = [new Parameters.ParameterComponent { Name = "resource", Resource = single }] },
        };

        // Query parameters on a POST are inputs too (FHIR allows mixing them for simple types).
        foreach (var (key, value) in request.Query)
        {
            if (!key.StartsWith('_'))
            {
                parameters.Add(key, new FhirString(value));
            }
        }

        return parameters;
    }
}
