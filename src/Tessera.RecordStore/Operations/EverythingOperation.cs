using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Search;

namespace Tessera.RecordStore.Operations;

/// <summary>
/// Patient/$everything (FHIR R4 OperationDefinition Patient-everything): a person's whole record as a paged
/// searchset. On one patient it follows the master person records (urn:tessera:mpi|master) one hop, so the
/// record of a person registered at several sources comes back whole; at type level it covers every patient.
/// </summary>
internal sealed class EverythingOperation : FhirOperation
{
    public const int DefaultCount = 100;

    public override string Name => "everything";

    public override OperationLevel Levels => OperationLevel.Type | OperationLevel.Instance;

    public override IReadOnlyCollection<string> ResourceTypes => ["Patient"];

    public override bool AffectsState => false;

    public override string Definition => "http://hl7.org/fhir/OperationDefinition/Patient-everything";

    public override string Documentation =>
        "The patient's compartment (every R4 compartment parameter), across the master person records that link it, plus the resources it references that belong to no patient; "
        + "_since, start and end (care dates), _type and _count, paged with next links.";

    public override Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct) =>
        invocation.Store.EverythingAsync(invocation, Parse(invocation), ct);

    private static (EverythingRequest Request, SearchQuery Links) Parse(OperationInvocation invocation)
    {
        var links = new SearchQuery { ResourceType = "Patient", Count = DefaultCount };
        long? since = null, start = null, end = null;
        List<string>? types = null;
        (string, string)? after = null;
        foreach (var parameter in invocation.Parameters.Parameter)
        {
            var name = parameter.Name;
            var value = parameter.Value?.ToString() ?? string.Empty;
            switch (name)
            {
                case "_since":
                    since = Date(value, name).Low;
                    break;
                case "start":
                    start = Date(value, name).Low;
                    break;
                case "end":
                    end = Date(value, name).High;
                    break;
                case "_type":
                    types ??= [];
                    foreach (var t in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (!ModelInfo.IsKnownResource(t))
                        {
                            throw FhirException.BadRequest($"_type: '{t}' is not a FHIR R4 resource type.", "_type");
                        }

                        types.Add(t);
                    }

                    break;
                case "_count":
                    if (!int.TryParse(value, out var count) || count < 1)
                    {
                        throw FhirException.BadRequest($"_count must be a whole number of 1 or more, not '{value}'.", "_count");
                    }

                    links.Count = Math.Min(count, SearchQuery.MaxCount);
                    value = links.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    break;
                case "_cursor":
                    var key = PageCursor.Decode(value, 2);
                    after = (key[0], key[1]);
                    links.Cursor = value;
                    continue;
                case "_format" or "_pretty":
                    continue;
                default:
                    if (invocation.Request.StrictHandling)
                    {
                        throw FhirException.BadRequest($"$everything has no parameter '{name}' (Prefer: handling=strict).", name, OperationOutcome.IssueType.NotSupported);
                    }

                    links.Ignored.Add($"{name}: $everything has no such parameter");
                    continue;
            }

            links.Applied.Add(new(name, value));
        }

        var request = new EverythingRequest { Types = types, Since = since, Start = start, End = end, Count = links.Count, After = after };
        return (request, links);
    }

    private static FhirDateRange Date(string value, string name)
    {
        if (!FhirDateRange.TryParse(value, out var range))
        {
            throw FhirException.BadRequest($"{name} must be a date (YYYY, YYYY-MM, YYYY-MM-DD) or an instant (YYYY-MM-DDThh:mm:ssZ), not '{value}'.", name);
        }

        return range;
    }
}
