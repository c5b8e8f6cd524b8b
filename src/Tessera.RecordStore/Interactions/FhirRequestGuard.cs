namespace Tessera.RecordStore.Interactions;

/// <summary>
/// Decides what an authenticated caller may do, beneath the REST layer: every interaction that carries a
/// <see cref="FhirRequest.Principal"/> (an HTTP request, each entry of its batch or transaction, an operation's
/// own interactions) passes through the guards registered on <see cref="FhirStore.Guards"/>, in order.
/// Internal callers (Principal null: the CLI, the HL7 pipeline) are not guarded.
/// </summary>
public abstract class FhirRequestGuard
{
    /// <summary>
    /// Runs before the interaction. Throw a <see cref="FhirException"/> (403) to refuse it; return a narrowed
    /// request (e.g. a search confined to a compartment) or the request unchanged.
    /// </summary>
    public virtual ValueTask<FhirRequest> BeforeAsync(FhirStore store, FhirRequest request, CancellationToken ct) => ValueTask.FromResult(request);

    /// <summary>
    /// Runs on a successful response (status below 400). Throw to refuse what was found; return the response
    /// filtered or unchanged.
    /// </summary>
    public virtual ValueTask<FhirResponse> AfterAsync(FhirStore store, FhirRequest request, FhirResponse response, CancellationToken ct) => ValueTask.FromResult(response);
}
