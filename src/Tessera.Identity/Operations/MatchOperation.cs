using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.Identity.Matching;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Operations;

/// <summary>
/// <c>Patient/$match</c> (FHIR R4): the source Patient records that may be the given patient, best first, each with
/// <c>search.score</c> (the match probability) and the match-grade extension; each person's master is included.
/// </summary>
internal sealed class MatchOperation(MasterPatientIndex index) : FhirOperation
{
    public const string MatchGrade = "http://hl7.org/fhir/StructureDefinition/match-grade";
    private const int MaxCount = 100;

    public override string Name => "match";

    public override OperationLevel Levels => OperationLevel.Type;

    public override IReadOnlyCollection<string> ResourceTypes => ["Patient"];

    public override bool AffectsState => false;

    public override string? Definition => "http://hl7.org/fhir/OperationDefinition/Patient-match";

    public override string? Documentation => "Probabilistic (Fellegi–Sunter) match against the master patient index; search.score is the match probability and match-grade is certain (auto-link), probable or possible.";

    public override async Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct)
    {
        if (invocation.ResourceParameter("resource") is not Patient patient)
        {
            throw FhirException.BadRequest("Patient/$match needs the patient's details as a Patient resource in the parameter 'resource' (POST a Parameters resource).", "Parameters.parameter[resource]", OperationOutcome.IssueType.Required);
        }

        var onlyCertain = PatientInputs.Flag(invocation, "onlyCertainMatches");
        var count = 10;
        if (invocation.Value("count") is { } countText && (!int.TryParse(countText, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1 || count > MaxCount))
        {
            throw FhirException.BadRequest($"count must be a whole number from 1 to {MaxCount}, not '{countText}'.", "Parameters.parameter[count]");
        }

        var query = PatientDemographics.ToPersonRecord(patient) with { RecordId = patient.Id ?? string.Empty };
        if (query.FamilyName is null && query.GivenNames is null && !NhsNumbers.NhsNumber.IsValid(query.NhsNumber))
        {
            throw FhirException.Unprocessable("Patient/$match needs at least a name or a valid NHS number to match on; add name, birthDate and address for a reliable match.", "Parameters.parameter[resource].name");
        }

        // A few more than asked for: records merged away are passed over.
        var candidates = await index.MatchAsync(query, Math.Min(MaxCount, count + 10), ct);
        var bundle = new Bundle { Type = Bundle.BundleType.Searchset, Id = Guid.NewGuid().ToString("N"), Meta = new Meta { LastUpdated = index.Clock.GetUtcNow() } };
        var masters = new List<string>();
        await using var connection = await index.Store.OpenConnectionAsync(ct);
        foreach (var candidate in candidates)
        {
            var grade = Grade(candidate);
            if (bundle.Entry.Count >= count || (onlyCertain && grade != "certain"))
            {
                continue;
            }

            var rows = await connection.QueryAsync("SELECT master_id, retired FROM mpi_source WHERE patient_id = @id AND deleted = 0", r => (Master: r.NullableString(0), Retired: r.Long(1) != 0), ct, ("@id", candidate.Record.RecordId));
            if (rows.Count == 0 || rows[0].Retired)
            {
                continue; // a merged-away record: its person is found through the surviving one
            }

            var read = await index.Store.ExecuteAsync(new FhirRequest { Method = "GET", Path = $"Patient/{candidate.Record.RecordId}" }, ct);
            if (read.Status != 200)
            {
                continue;
            }

            var entry = new Bundle.EntryComponent
            {
                FullUrl = $"{invocation.Request.BaseUrl.TrimEnd('/')}/Patient/{candidate.Record.RecordId}",
                Resource = RecordStore.FhirStore.Materialise(read),
                Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match, Score = (decimal)Math.Round(candidate.Probability, 4) },
            };
            entry.Search.Extension.Add(new Extension(MatchGrade, new Code(grade)));
            bundle.Entry.Add(entry);
            if (rows[0].Master is { } master && !masters.Contains(master))
            {
                masters.Add(master);
            }
        }

        bundle.Total = bundle.Entry.Count;
        foreach (var master in masters)
        {
            var read = await index.Store.ExecuteAsync(new FhirRequest { Method = "GET", Path = $"Patient/{master}" }, ct);
            if (read.Status == 200)
            {
                bundle.Entry.Add(new Bundle.EntryComponent
                {
                    FullUrl = $"{invocation.Request.BaseUrl.TrimEnd('/')}/Patient/{master}",
                    Resource = RecordStore.FhirStore.Materialise(read),
                    Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Include },
                });
            }
        }

        return new FhirResponse { Status = 200, Resource = bundle };
    }

    /// <summary>certain: would be linked automatically; probable: more likely than not; possible: worth a look.</summary>
    internal static string Grade(MatchCandidate candidate) => candidate.Decision switch
    {
        MatchDecision.AutoLink => "certain",
        _ when candidate.Probability >= 0.5 => "probable",
        _ => "possible",
    };
}
