using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// Typical clinical searches over the same Synthea patients on SQLite and on PostgreSQL: each returns the same
/// resources, in the same order where the search sorts, on both. Resources are compared by their place in the
/// corpus, since each database gives them its own ids.
/// </summary>
public sealed class ClinicalQueryTests(EverythingFixture fixture) : IClassFixture<EverythingFixture>
{
    /// <summary>Searches for one patient ({p}), whether they sort, and how many resources they return over the three patients (counted in the corpus).</summary>
    private static readonly (string Query, bool Sorted, int Total)[] Queries =
    [
        ("Observation?patient={p}&category=vital-signs&_sort=-date", false, 57),
        ("Observation?subject=Patient/{p}&code=http://loinc.org|29463-7&_sort=date,_id", true, 12),
        ("Observation?patient={p}&code=8302-2,29463-7&date=ge2015-01-01", false, 18),
        ("Observation?patient={p}&category=laboratory&value-quantity=gt5", false, 39),
        ("Observation?patient={p}&component-code-value-quantity=http://loinc.org|8480-6$ge100", false, 12),
        ("Condition?patient={p}&clinical-status=active", false, 3),
        ("Condition?patient={p}&clinical-status:not=active&onset-date=lt2018", false, 2),
        ("MedicationRequest?patient={p}&status=active&_include=MedicationRequest:requester", false, 3),
        ("Encounter?patient={p}&date=ge2015&_sort=-date,_id&_include=Encounter:service-provider", true, 14),
        ("Encounter?patient={p}&class=AMB&_revinclude=Observation:encounter", false, 124),
        ("Immunization?patient={p}&date=lt2020-06", false, 12),
        ("Procedure?patient={p}&date=ge2010&_sort=date,_id", true, 6),
        ("DiagnosticReport?patient={p}&_include=DiagnosticReport:result", false, 46),
        ("Claim?patient={p}&_summary=true", false, 19),
        ("Patient?_id={p}&_has:Observation:patient:code=http://loinc.org|72514-3", false, 3),
        ("Patient?_id={p}&_revinclude=Encounter:patient&_revinclude=Condition:subject", false, 24),
        ("Patient/{p}/Immunization?_sort=date,vaccine-code", true, 24),
    ];

    [Fact]
    public async System.Threading.Tasks.Task Typical_clinical_searches_find_the_same_resources_on_both_backends()
    {
        var sqlite = fixture.Loaded["sqlite"];
        var postgres = fixture.Loaded["postgres"];
        Assert.Equal(sqlite.Count, postgres.Count);
        foreach (var (query, sorted, expected) in Queries)
        {
            var total = 0;
            for (var i = 0; i < sqlite.Count; i++)
            {
                var onSqlite = await Places("sqlite", query.Replace("{p}", sqlite[i].PatientId, StringComparison.Ordinal));
                var onPostgres = await Places("postgres", query.Replace("{p}", postgres[i].PatientId, StringComparison.Ordinal));
                if (!sorted)
                {
                    onSqlite.Matches.Sort(StringComparer.Ordinal);
                    onPostgres.Matches.Sort(StringComparer.Ordinal);
                }

                Assert.True(onSqlite.Matches.SequenceEqual(onPostgres.Matches), $"{query} for patient {i}: SQLite matched [{string.Join(", ", onSqlite.Matches)}], PostgreSQL [{string.Join(", ", onPostgres.Matches)}]");
                Assert.True(onSqlite.Included.SetEquals(onPostgres.Included), $"{query} for patient {i}: SQLite included [{string.Join(", ", onSqlite.Included)}], PostgreSQL [{string.Join(", ", onPostgres.Included)}]");
                total += onSqlite.Matches.Count + onSqlite.Included.Count;
            }

            // The corpus gives every search something to find, so that agreeing on nothing cannot pass.
            Assert.True(total == expected, $"{query} found {total} resources over the patients; the corpus holds {expected}");
        }
    }

    /// <summary>
    /// The matches of every page in order, and the resources included beside them (each page includes for its own
    /// matches, so which page carries an include may differ), by their places in the corpus.
    /// </summary>
    private async Task<(List<string> Matches, HashSet<string> Included)> Places(string backend, string url)
    {
        var places = fixture.Places[backend];
        var matches = new List<string>();
        var included = new HashSet<string>(StringComparer.Ordinal);
        string? next = url + (url.Contains('?', StringComparison.Ordinal) ? "&" : "?") + "_count=7";
        while (next is not null)
        {
            var page = await fixture[backend].SearchAsync(next);
            foreach (var entry in page.Entry)
            {
                var key = (entry.Resource.TypeName, entry.Resource.Id!);
                Assert.True(places.TryGetValue(key, out var place), $"{url} on {backend} returned {key}, which is not from the corpus");
                if (entry.Search?.Mode == Bundle.SearchEntryMode.Include)
                {
                    included.Add(place);
                }
                else
                {
                    matches.Add(place);
                }
            }

            next = page.Link.FirstOrDefault(l => l.Relation == "next")?.Url is { } link ? link["http://localhost/fhir/".Length..] : null;
        }

        return (matches, included);
    }
}
