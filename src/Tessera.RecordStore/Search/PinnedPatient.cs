using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;

namespace Tessera.RecordStore.Search;

/// <summary>
/// The patient every row of a search belongs to (its patient_key), when the search itself says so: a compartment
/// search (Patient/123/Observation), or one reference to a Patient on the element that decides which patient a
/// resource belongs to — the first parameter of the type's Patient compartment, when that element holds a single
/// reference (Observation?patient=123, Encounter?subject=Patient/123). A resource's patient key is the Patient its
/// first compartment parameter names (<see cref="ResourceIndexer.PatientKey"/>), so every match of such a search is
/// that patient's row. A search that names the patient any other way (several values, another element, a chain) is
/// not pinned: it may find rows of other patients as well.
/// </summary>
internal static partial class PinnedPatient
{
    private const string PatientOnly = ".where(resolve() is Patient)";

    private static readonly ConcurrentDictionary<(string Type, string Expression), bool> Decisive = new();

    public static string? Of(SearchQuery query, SearchParameterRegistry registry)
    {
        if (query.CompartmentPatient is { } compartment)
        {
            return compartment;
        }

        foreach (var criterion in query.Criteria)
        {
            if (criterion is ParamCriterion { Param.Type: SearchParamType.Reference, Values: [var value] } c && c.Modifier is null or "Patient"
                && PatientId(value, c) is { } id && DecidesPatient(query.ResourceType, c.Param, registry))
            {
                return id;
            }
        }

        return null;
    }

    /// <summary>
    /// Whether a search's rows are chosen by its patient alone: it is pinned to a patient (<see cref="Of"/>) and has no
    /// other criterion (sorting, paging, includes and the like choose no rows). Every patient's rows are then found
    /// the same way, whether they are few or many, so one generic plan of the statement serves every run of it, and
    /// PostgreSQL need not plan it again for each patient: for Observation?patient= that planning cost more than the
    /// search itself. A second criterion (a code, a date) can be common for one value and rare for another, and is
    /// planned for its values (see <see cref="Storage.PostgresDialect"/>).
    /// </summary>
    public static bool AloneDecides(SearchQuery query, SearchParameterRegistry registry) =>
        Of(query, registry) is not null && query.Criteria.Count == (query.CompartmentPatient is null ? 1 : 0);

    /// <summary>The Patient id a reference value names: "Patient/123", or "123" where only a Patient can be meant (an absolute URL is left alone).</summary>
    private static string? PatientId(string value, ParamCriterion criterion)
    {
        if (value.StartsWith("Patient/", StringComparison.Ordinal))
        {
            var id = value["Patient/".Length..];
            return Id().IsMatch(id) ? id : null;
        }

        // A bare id matches any type of target the parameter indexes: a Patient only when that is all it indexes.
        var onlyPatient = criterion.Modifier == "Patient" || criterion.Param.Targets is ["Patient"] || criterion.Param.Expression?.EndsWith(PatientOnly, StringComparison.Ordinal) == true;
        return onlyPatient && Id().IsMatch(value) ? value : null;
    }

    /// <summary>Whether the parameter reads the single-reference element of a type's first Patient compartment parameter.</summary>
    private static bool DecidesPatient(string type, SearchParam param, SearchParameterRegistry registry)
    {
        if (param.Expression is null || !PatientCompartment.Parameters.TryGetValue(type, out var parameters) || parameters.Length == 0
            || registry.Find(type, parameters[0]) is not { Expression: { } first })
        {
            return false;
        }

        return Decisive.GetOrAdd((type, param.Expression + "\u001f" + first), _ =>
            Element(type, param.Expression) is { } element && element == Element(type, first) && SimplePaths.IsSingleValued(type + "." + element, type));
    }

    /// <summary>"Observation.subject" or "Observation.subject.where(resolve() is Patient)" → "subject"; null for any other shape.</summary>
    private static string? Element(string type, string expression)
    {
        var path = expression.EndsWith(PatientOnly, StringComparison.Ordinal) ? expression[..^PatientOnly.Length] : expression;
        return path.StartsWith(type + ".", StringComparison.Ordinal) && Name().IsMatch(path[(type.Length + 1)..]) ? path[(type.Length + 1)..] : null;
    }

    [GeneratedRegex("^[A-Za-z0-9\\-\\.]{1,64}$")]
    private static partial Regex Id();

    [GeneratedRegex("^[a-z][A-Za-z]*$")]
    private static partial Regex Name();
}
