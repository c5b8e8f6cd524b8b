using Hl7.Fhir.Model;

namespace Tessera.RecordStore.Interactions;

/// <summary>A FHIR error: the HTTP status it answers with and the OperationOutcome that explains it.</summary>
public sealed class FhirException(int status, OperationOutcome outcome) : Exception(Describe(outcome))
{
    public int Status { get; } = status;

    public OperationOutcome Outcome { get; } = outcome;

    public static FhirException BadRequest(string message, string? path = null, OperationOutcome.IssueType type = OperationOutcome.IssueType.Invalid) =>
        new(400, Outcomes.Error(type, message, path));

    public static FhirException NotFound(string message) => new(404, Outcomes.Error(OperationOutcome.IssueType.NotFound, message));

    public static FhirException Gone(string message) => new(410, Outcomes.Error(OperationOutcome.IssueType.Deleted, message));

    public static FhirException Conflict(string message) => new(409, Outcomes.Error(OperationOutcome.IssueType.Conflict, message));

    public static FhirException PreconditionFailed(string message) => new(412, Outcomes.Error(OperationOutcome.IssueType.Conflict, message));

    public static FhirException MethodNotAllowed(string message) => new(405, Outcomes.Error(OperationOutcome.IssueType.NotSupported, message));

    public static FhirException NotSupported(string message) => new(400, Outcomes.Error(OperationOutcome.IssueType.NotSupported, message));

    public static FhirException Unprocessable(string message, string? path = null) => new(422, Outcomes.Error(OperationOutcome.IssueType.Processing, message, path));

    private static string Describe(OperationOutcome outcome) =>
        string.Join("; ", outcome.Issue.Select(i => i.Diagnostics ?? i.Details?.Text ?? i.Code?.ToString()));
}

/// <summary>Builds OperationOutcomes with FHIRPath locations, as clients expect them.</summary>
public static class Outcomes
{
    public static OperationOutcome Error(OperationOutcome.IssueType type, string message, string? path = null) =>
        Issue(OperationOutcome.IssueSeverity.Error, type, message, path);

    public static OperationOutcome Information(string message) =>
        Issue(OperationOutcome.IssueSeverity.Information, OperationOutcome.IssueType.Informational, message, null);

    public static OperationOutcome Issue(OperationOutcome.IssueSeverity severity, OperationOutcome.IssueType type, string message, string? path)
    {
        var issue = new OperationOutcome.IssueComponent
        {
            Severity = severity,
            Code = type,
            Diagnostics = message,
        };
        if (path is not null)
        {
            issue.Expression = [path];
        }

        return new OperationOutcome { Issue = [issue] };
    }
}
