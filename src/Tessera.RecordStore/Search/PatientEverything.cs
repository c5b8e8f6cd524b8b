using System.Data.Common;
using System.Globalization;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Resources;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Search;

/// <summary>What one call of Patient/$everything asks for, after its parameters were checked.</summary>
internal sealed record EverythingRequest
{
    /// <summary>The patients whose records are wanted; null for every patient (type level).</summary>
    public IReadOnlyList<string>? Patients { get; init; }

    public IReadOnlyList<string>? Types { get; init; }

    /// <summary>Only resources changed at or after this instant (epoch ms).</summary>
    public long? Since { get; init; }

    /// <summary>Care dates overlapping [Start, End] (epoch ms); a missing bound is open.</summary>
    public long? Start { get; init; }

    public long? End { get; init; }

    public int Count { get; init; }

    /// <summary>The (type, id) the page starts after.</summary>
    public (string Type, string Id)? After { get; init; }
}

/// <summary>
/// The record of one person as SQL: the patients' compartments (FHIR R4 CompartmentDefinition "patient",
/// every parameter, not only the one that set <c>patient_key</c>), plus the resources those reference that
/// belong to no patient compartment (Organization, Practitioner, Location, Medication, Device, ...).
/// Another patient's resources are never pulled in by a reference. Pages are ordered by (type, id) and
/// continued by keyset, so paging stays correct while the record changes.
/// </summary>
internal static class PatientEverything
{
    /// <summary>
    /// The care date of each type that start/end filter on (the spec leaves the choice to the server).
    /// Types not listed here (Patient, Organization, Coverage, ...) are always in range.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> CareDates = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["AdverseEvent"] = "date",
        ["AllergyIntolerance"] = "date",
        ["Appointment"] = "date",
        ["CarePlan"] = "date",
        ["CareTeam"] = "date",
        ["Claim"] = "created",
        ["ClinicalImpression"] = "date",
        ["Communication"] = "sent",
        ["CommunicationRequest"] = "authored",
        ["Composition"] = "date",
        ["Condition"] = "onset-date",
        ["Consent"] = "date",
        ["DetectedIssue"] = "identified",
        ["DeviceRequest"] = "authored-on",
        ["DiagnosticReport"] = "date",
        ["DocumentManifest"] = "created",
        ["DocumentReference"] = "date",
        ["Encounter"] = "date",
        ["EpisodeOfCare"] = "date",
        ["ExplanationOfBenefit"] = "created",
        ["FamilyMemberHistory"] = "date",
        ["Flag"] = "date",
        ["Goal"] = "start-date",
        ["ImagingStudy"] = "started",
        ["Immunization"] = "date",
        ["ImmunizationEvaluation"] = "date",
        ["ImmunizationRecommendation"] = "date",
        ["Invoice"] = "date",
        ["List"] = "date",
        ["Media"] = "created",
        ["MedicationAdministration"] = "effective-time",
        ["MedicationDispense"] = "whenhandedover",
        ["MedicationRequest"] = "authoredon",
        ["MedicationStatement"] = "effective",
        ["NutritionOrder"] = "datetime",
        ["Observation"] = "date",
        ["Procedure"] = "date",
        ["Provenance"] = "recorded",
        ["QuestionnaireResponse"] = "authored",
        ["RiskAssessment"] = "date",
        ["ServiceRequest"] = "authored",
        ["Specimen"] = "collected",
        ["SupplyRequest"] = "date",
        ["VisionPrescription"] = "datewritten",
    };

    private static readonly string CompartmentPairs = string.Join(", ",
        PatientCompartment.Parameters.SelectMany(kv => kv.Value.Select(p => $"('{kv.Key}', '{p}')")));

    private static readonly string CompartmentTypes = string.Join(", ",
        PatientCompartment.Parameters.Keys.Append("Patient").Distinct().Select(t => $"'{t}'"));

    private static readonly string CareDateCase = "CASE r.resource_type "
        + string.Join(" ", CareDates.Select(kv => $"WHEN '{kv.Key}' THEN '{kv.Value}'")) + " END";

    /// <summary>The patients of one person: the patient, and across the master records that link it, their other patients.</summary>
    public static async Task<List<string>> PersonAsync(DbConnection connection, string patientId, CancellationToken ct)
    {
        var person = new List<string> { patientId };
        // A master covers the patients it links; a source patient reaches its masters, and through them their other
        // sources (one hop). The candidate masters are found first, by the index on link targets, and kept apart
        // (MATERIALIZED): a plan that started from the master tag instead would visit every master in the region.
        // The tag is tested as "code || ''" so that no index on codes can serve it: the planner's statistics, sampled
        // from a table where masters are a fraction of a percent of the rows, take the tag for rare and would scan
        // all of them (100,000 at 100,000 people) instead of the two or three candidates' own rows.
        const string sql = """
            WITH candidates AS MATERIALIZED (
                SELECT m.id FROM idx_reference m WHERE m.target_id = @p AND m.target_type = 'Patient' AND m.param = 'link' AND m.resource_type = 'Patient'
                UNION SELECT @p),
            masters AS MATERIALIZED (
                SELECT c.id FROM candidates c JOIN resource mr ON mr.resource_type = 'Patient' AND mr.id = c.id AND mr.deleted = 0
                WHERE EXISTS (SELECT 1 FROM idx_token t WHERE t.resource_type = 'Patient' AND t.id = c.id AND t.param = '_tag' AND t.system = 'urn:tessera:mpi' AND t.code || '' = 'master'))
            SELECT id FROM masters WHERE id <> @p
            UNION
            SELECT s.target_id FROM masters JOIN idx_reference s ON s.resource_type = 'Patient' AND s.id = masters.id AND s.param = 'link' AND s.target_type = 'Patient'
                WHERE s.target_id IS NOT NULL
            """;
        await using var cmd = Db.Command(connection, null, sql, ("p", patientId));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetString(0);
            if (!person.Contains(id, StringComparer.Ordinal))
            {
                person.Add(id);
            }
        }

        return person;
    }

    /// <summary>
    /// The current versions of one page (at most Count + 1, so the caller knows whether there is a next page) and, on
    /// the first page, the record's total. The resources are looked up by key (see <see cref="ResourceRepository.JoinByKey"/>):
    /// joined plainly, a record of a few hundred resources was hashed against every resource in the region.
    /// </summary>
    public static async Task<(List<StoredVersion> Rows, int? Total)> PageAsync(DbConnection connection, EverythingRequest request, CancellationToken ct)
    {
        var builder = new SearchSqlBuilder(string.Empty);
        string compartment;
        if (request.Patients is null)
        {
            compartment = "SELECT r0.resource_type, r0.id FROM resource r0 WHERE r0.patient_key IS NOT NULL AND r0.deleted = 0";
        }
        else
        {
            var ids = string.Join(", ", request.Patients.Select(p => builder.Param(p)));
            compartment = $"""
                SELECT r0.resource_type, r0.id FROM resource r0 WHERE r0.patient_key IN ({ids}) AND r0.deleted = 0
                UNION
                SELECT x0.resource_type, x0.id FROM idx_reference x0 WHERE x0.target_id IN ({ids}) AND x0.target_type = 'Patient' AND (x0.resource_type, x0.param) IN (VALUES {CompartmentPairs})
                """;
        }

        var filters = new List<string> { "r.deleted = 0" };
        var (access, accessParameters) = FhirStore.FilterTerm("r");
        if (access.Length > 0)
        {
            filters.Add(access[" AND ".Length..]);
        }

        if (request.Types is { Count: > 0 } types)
        {
            filters.Add($"r.resource_type IN ({string.Join(", ", types.Select(t => builder.Param(t)))})");
        }

        if (request.Since is { } since)
        {
            filters.Add($"r.last_updated >= {builder.Param(since)}");
        }

        if (request.Start is not null || request.End is not null)
        {
            var start = builder.Param(request.Start ?? long.MinValue);
            var end = builder.Param(request.End ?? long.MaxValue);
            var dates = $"FROM idx_date d WHERE d.resource_type = r.resource_type AND d.id = r.id AND d.param = {CareDateCase}";
            filters.Add($"(NOT EXISTS (SELECT 1 {dates}) OR EXISTS (SELECT 1 {dates} AND d.high >= {start} AND d.low <= {end}))");
        }

        var from = $"""
            WITH c (resource_type, id) AS ({compartment}),
            e (resource_type, id) AS (
                SELECT resource_type, id FROM c
                UNION
                SELECT x.target_type, x.target_id FROM idx_reference x JOIN c ON x.resource_type = c.resource_type AND x.id = c.id
                    WHERE x.target_id IS NOT NULL AND x.target_type NOT IN ({CompartmentTypes}))
            SELECT $columns FROM e {ResourceRepository.JoinByKey(connection, "resource", "r", "$t.resource_type = e.resource_type AND $t.id = e.id")}
            """;

        if (request.After is { } after)
        {
            var type = builder.Param(after.Type);
            filters.Add($"(r.resource_type > {type} OR (r.resource_type = {type} AND r.id > {builder.Param(after.Id)}))");
        }

        // The page's keys, then their stored versions, in one statement: the version rows are fetched only for the
        // page, each by its key.
        // On the first page the total comes with it (a window count over the whole record, taken before the LIMIT):
        // the record is not assembled a second time to count it.
        var counted = request.After is null;
        var page = from.Replace("$columns", "r.resource_type, r.id, r.version" + (counted ? ", COUNT(*) OVER () AS total" : string.Empty), StringComparison.Ordinal)
            + $" WHERE {string.Join(" AND ", filters)} ORDER BY r.resource_type, r.id LIMIT {(request.Count + 1).ToString(CultureInfo.InvariantCulture)}";
        var versions = ResourceRepository.JoinByKey(connection, "resource_version", "v", "$t.resource_type = p.resource_type AND $t.id = p.id AND $t.version = p.version");
        var sql = $"WITH p AS MATERIALIZED ({page}) SELECT {ResourceRepository.VersionColumns}{(counted ? ", p.total" : string.Empty)} FROM p {versions} ORDER BY p.resource_type, p.id";
        var rows = new List<StoredVersion>();
        int? total = counted ? 0 : null;
        await using (var cmd = Db.Command(connection, null, sql, [.. builder.Parameters, .. accessParameters]))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                rows.Add(ResourceRepository.ReadVersion(reader));
                if (counted)
                {
                    total = Convert.ToInt32(reader.GetValue(ResourceRepository.VersionColumnCount), CultureInfo.InvariantCulture);
                }
            }
        }

        return (rows, total);
    }
}
