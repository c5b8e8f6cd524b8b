using Microsoft.Extensions.Logging;

namespace Tessera.RecordStore;

/// <summary>Custom SearchParameter resources held on the store, registered when it opens.</summary>
public sealed partial class FhirStore
{
    private async System.Threading.Tasks.Task LoadCustomSearchParametersAsync(CancellationToken ct)
    {
        await using var connection = await _dialect.OpenAsync(ct);
        await _customParameters.LoadAsync(connection, _repository, (id, e) =>
            _logger.LogWarning(e, "SearchParameter/{Id} is not used: {Reason}", id, e.Message), ct);
    }
}
