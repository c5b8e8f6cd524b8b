using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;

namespace Tessera.RecordStore.Operations;

/// <summary>Where an operation may be invoked: on the base, on a resource type, or on one resource.</summary>
[Flags]
public enum OperationLevel
{
    System = 1,
    Type = 2,
    Instance = 4,
}

/// <summary>
/// An extended operation (FHIR R4 RESTful API, 3.1.0.13), such as <c>Patient/$everything</c> or <c>Patient/$match</c>.
/// Parts above the record store (Identity, Governance) register their operations on the store, so that HTTP,
/// bundles and the command line all reach them through <see cref="FhirStore.ExecuteAsync"/>.
/// </summary>
public abstract class FhirOperation
{
    /// <summary>The operation's name without the leading '$', e.g. "everything".</summary>
    public abstract string Name { get; }

    /// <summary>The levels it answers on.</summary>
    public abstract OperationLevel Levels { get; }

    /// <summary>The resource types it answers on at type and instance level; empty means every type.</summary>
    public virtual IReadOnlyCollection<string> ResourceTypes => [];

    /// <summary>Whether the operation changes nothing, so that GET may invoke it (FHIR: affectsState = false).</summary>
    public virtual bool AffectsState => true;

    /// <summary>The canonical URL of its OperationDefinition, for the CapabilityStatement.</summary>
    public virtual string? Definition => null;

    /// <summary>What it does, for the CapabilityStatement.</summary>
    public virtual string? Documentation => null;

    public abstract Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct);

    internal bool Answers(OperationLevel level, string? type) =>
        (Levels & level) != 0 && (level == OperationLevel.System || ResourceTypes.Count == 0 || (type is not null && ResourceTypes.Contains(type)));
}

/// <summary>One call of an operation: the request as sent, where it was invoked, and its input parameters.</summary>
public sealed record OperationInvocation
{
    public required FhirStore Store { get; init; }

    public required FhirRequest Request { get; init; }

    public required OperationLevel Level { get; init; }

    /// <summary>The resource type at type and instance level.</summary>
    public string? ResourceType { get; init; }

    /// <summary>The resource id at instance level.</summary>
    public string? Id { get; init; }

    /// <summary>
    /// The input: the Parameters body of a POST, or the query of a GET as string parameters.
    /// A POST whose body is a single resource other than Parameters arrives as one parameter named "resource".
    /// </summary>
    public required Parameters Parameters { get; init; }

    /// <summary>
    /// The transaction the caller holds when it invoked the operation inside one
    /// (<see cref="FhirStore.ExecuteAsync(FhirRequest, Machinery.StoreTransaction, CancellationToken)"/>, a bundle):
    /// an operation that writes must write in it rather than open its own.
    /// </summary>
    public Machinery.StoreTransaction? Transaction { get; init; }

    /// <summary>The first value of a named parameter as a string (query values and primitive body values alike).</summary>
    public string? Value(string name) =>
        Parameters.Parameter.FirstOrDefault(p => p.Name == name)?.Value switch
        {
            null => null,
            PrimitiveType primitive => primitive.ToString(),
            var other => other.ToString(),
        };

    /// <summary>The resource given in a named parameter, if any.</summary>
    public Resource? ResourceParameter(string name) => Parameters.Parameter.FirstOrDefault(p => p.Name == name)?.Resource;
}
