using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;
using Tessera.RecordStore.Search;

namespace Tessera.RecordStore;

/// <summary>Patient/$everything over the store's own tables (see <see cref="PatientEverything"/>).</summary>
public sealed partial class FhirStore
{
    /// <summary>The search executor, for tests that lower its limits.</summary>
    internal SearchExecutor Searcher => _search;

    internal async Task<FhirResponse> EverythingAsync(OperationInvocation invocation, (EverythingRequest Request, SearchQuery Links) parsed, CancellationToken ct)
    {
        var (request, links) = parsed;
        await using var connection = await _dialect.OpenForSearchAsync(ct);
        if (invocation.Level == OperationLevel.Instance)
        {
            var id = invocation.Id!;
            var patient = await _repository.ReadCurrentAsync(connection, null, "Patient", id, ct);
            if (patient is null || patient.Version == 0)
            {
                throw FhirException.NotFound($"Patient/{id} is not known.");
            }

            if (patient.Deleted)
            {
                throw new FhirException(410, Outcomes.Error(OperationOutcome.IssueType.Deleted, $"Patient/{id} was deleted (version {patient.Version})."));
            }

            await RequireVisibleAsync(connection, null, "Patient", id, ct);

            request = request with { Patients = await PatientEverything.PersonAsync(connection, id, ct) };
        }

        var (matches, total) = await PatientEverything.PageAsync(connection, request, ct);
        string? next = null;
        if (matches.Count > request.Count)
        {
            matches.RemoveAt(matches.Count - 1);
            next = PageCursor.Encode(matches[^1].ResourceType, matches[^1].Id);
        }

        var page = new SearchPage(matches, [], total, next);
        return new FhirResponse { Body = BundleBuilder.SearchSet(page, links, invocation.Request) };
    }
}
