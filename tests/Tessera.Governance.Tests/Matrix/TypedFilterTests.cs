using System.Text.RegularExpressions;
using Tessera.Governance.Audit;
using Tessera.Governance.Policy;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Interactions;
using Region = Tessera.Governance.Tests.Infrastructure.Region;

namespace Tessera.Governance.Tests.Matrix;

/// <summary>
/// A caller's row filter built for rows of one known type (the tests of the row's type decided in advance, so that
/// PostgreSQL has less to plan) lets through exactly the rows the general filter does, for every caller of the
/// matrix and every type stored in the region, on both databases.
/// </summary>
public sealed class TypedFilterTests(GovernedStores stores) : IClassFixture<GovernedStores>
{
    public static TheoryData<string, string> Cases() => AuthorisationMatrixTests.Cases();

    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task The_filter_for_one_type_lets_through_what_the_general_filter_does(string backend, string callerName)
    {
        var caller = Callers.All.Single(c => c.Name == callerName);
        var store = stores.Store(backend);
        var decision = DecideSearch(backend, caller, "_search", null);
        Assert.True(decision.Permitted);
        if (decision.Filter is not { } filter)
        {
            Assert.Equal("system", caller.Name); // reads everything: nothing to specialise
            return;
        }

        Assert.NotNull(filter.ForType);
        await using var connection = await store.OpenConnectionAsync();
        var types = await ListAsync(connection, "SELECT DISTINCT resource_type FROM resource r WHERE r.deleted = 0", []);
        Assert.Contains("Observation", types);
        Assert.Contains("Organization", types); // a type outside the patient compartment

        var general = await ListAsync(connection, $"SELECT r.resource_type || '/' || r.id FROM resource r WHERE r.deleted = 0 AND {filter.For("r")}", filter.Parameters);
        var typed = new List<string>();
        var simplified = 0;
        foreach (var type in types)
        {
            if (filter.For("r", type) != filter.For("r"))
            {
                simplified++;
            }

            typed.AddRange(await ListAsync(connection, $"SELECT r.resource_type || '/' || r.id FROM resource r WHERE r.deleted = 0 AND r.resource_type = @t AND {filter.For("r", type)}", [("t", type), .. filter.Parameters]));
        }

        Assert.Equal(general.Order(StringComparer.Ordinal), typed.Order(StringComparer.Ordinal));
        Assert.True(simplified > 0, "no type's filter was simpler than the general one");
    }

    /// <summary>
    /// Split for reading one row (the tests that seldom hold assumed false, a guard that sends the row to the whole
    /// filter when they might, and a refusal sent there too when a grant was assumed away), the filter lets through
    /// exactly the rows the whole filter does, for every caller of the matrix and every type stored in the region — the
    /// patients with an opt-out, a deny for an organisation, restricted labels and break-glass grants among them — on
    /// both databases.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public async System.Threading.Tasks.Task The_filter_split_for_reads_lets_through_what_the_whole_filter_does(string backend, string callerName)
    {
        var caller = Callers.All.Single(c => c.Name == callerName);
        var decision = DecideSearch(backend, caller, "_search", null);
        if (decision.Filter is not { } filter)
        {
            return;
        }

        await using var connection = await stores.Store(backend).OpenConnectionAsync();
        var types = await ListAsync(connection, "SELECT DISTINCT resource_type FROM resource r WHERE r.deleted = 0", []);
        const string Rows = "SELECT r.resource_type || '/' || r.id FROM resource r WHERE r.deleted = 0 AND ";
        var whole = await ListAsync(connection, Rows + filter.For("r"), filter.Parameters);

        // The rows a read lets through: under the assumption where the guard does not hold, under the whole filter where
        // it does, and where the assumption refuses a row without the refusal being final.
        string Read(string? type) => filter.AssumedFor("r", type) is { } assumed
            ? $"CASE WHEN {assumed.Guard} THEN {filter.For("r", type)} WHEN {assumed.Predicate} THEN 1 = 1 ELSE {(assumed.RefusalIsFinal ? "1 = 0" : filter.For("r", type))} END"
            : filter.For("r", type);

        var untyped = await ListAsync(connection, Rows + Read(null), filter.Parameters);
        var typed = new List<string>();
        foreach (var type in types)
        {
            typed.AddRange(await ListAsync(connection, $"{Rows}r.resource_type = @t AND {Read(type)}", [("t", type), .. filter.Parameters]));
        }

        Assert.Equal(whole.Order(StringComparer.Ordinal), untyped.Order(StringComparer.Ordinal));
        Assert.Equal(whole.Order(StringComparer.Ordinal), typed.Order(StringComparer.Ordinal));
        if (callerName == Callers.Gp.Name)
        {
            var assumed = filter.AssumedFor("r", "Observation");
            Assert.NotNull(assumed);
            Assert.Same(assumed, filter.AssumedFor("r", "Observation")); // written once, so that the read's statement text is too
            Assert.NotEmpty(await ListAsync(connection, Rows + assumed.Guard, filter.Parameters)); // the region has rows the guard sends on
            foreach (var text in new[] { "gov_consent_rule", "gov_version_label", "idx_uri", "idx_token", "break-glass" })
            {
                Assert.DoesNotContain(text, assumed.Predicate, StringComparison.Ordinal);
            }

            Assert.Contains("gov_consent_rule", assumed.Guard, StringComparison.Ordinal);
            Assert.False(assumed.RefusalIsFinal); // the break-glass was assumed away: a refused row is judged again
        }
    }

    /// <summary>
    /// A value the filter tests in several places (a practitioner's organisation is one of their parties, the
    /// organisation consent rules name and the one that recorded a row) is one parameter: each binds and is sent once.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_value_of_a_callers_filter_is_one_parameter(string backend, string callerName)
    {
        var caller = Callers.All.Single(c => c.Name == callerName);
        var decision = DecideSearch(backend, caller, "Observation", "Observation");
        if (decision.Filter is not { } filter)
        {
            return;
        }

        var values = filter.Parameters.Select(p => p.Value).ToList();
        Assert.Equal(values.Count, values.Distinct().Count());
        if (callerName == Callers.Gp.Name)
        {
            // The GP's organisation is tested as a party, as a consent rule's organisation and as the recorder.
            Assert.Equal(3, Regex.Matches(filter.For("r", "Observation"), "@" + filter.Parameters.Single(p => Equals(p.Value, caller.Org)).Name + @"\b").Count);
        }
    }

    /// <summary>
    /// Settled for one patient, the GP's filter keeps only what the patient's answers leave open: nothing at all for a
    /// registered patient without consent rules (the search is then the ungoverned one), the consent rule's sub-query
    /// for one who opted out, and a refusal without any sub-query for a patient with no relationship.
    /// </summary>
    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task A_filter_settled_for_a_patient_keeps_only_what_is_still_open(string backend)
    {
        var filter = DecideSearch(backend, Callers.Gp, "Observation", "Observation").Filter;
        Assert.NotNull(filter?.ForPatient);
        await using var connection = await stores.Store(backend).OpenConnectionAsync();
        async Task<string> SettledAsync(Relation relation, ConsentState consent) =>
            (await filter.ForPatient(new PatientRows(connection, null, Region.PatientId(relation, consent), "Observation"), default)).For("r", "Observation");

        Assert.Equal($"({SqlLogic.True})", await SettledAsync(Relation.Registered, ConsentState.None));
        Assert.Equal($"({SqlLogic.False})", await SettledAsync(Relation.None, ConsentState.None));
        var optedOut = await SettledAsync(Relation.Registered, ConsentState.OptOut);
        Assert.Contains("gov_consent_rule", optedOut, StringComparison.Ordinal);
        Assert.DoesNotContain("gov_relationship", optedOut, StringComparison.Ordinal);
        Assert.DoesNotContain("1 = ", optedOut, StringComparison.Ordinal);
    }

    /// <summary>The policy's decision on <paramref name="caller"/> searching <paramref name="path"/>.</summary>
    private AccessDecision DecideSearch(string backend, TestCaller caller, string path, string? type)
    {
        var audit = stores.Governance(backend).Audit;
        return new GovernancePolicy(audit, new AuditQuery(stores.Store(backend), audit)).Decide(new AccessRequest
        {
            Request = FhirRequest.FromUrl("GET", path),
            Principal = caller.Principal(),
            Interaction = AccessInteraction.Search,
            ResourceType = type,
        });
    }

    private static async Task<List<string>> ListAsync(System.Data.Common.DbConnection connection, string sql, IReadOnlyList<(string Name, object? Value)> parameters)
    {
        var used = parameters.Where(p => sql.Contains("@" + p.Name, StringComparison.Ordinal)).ToArray();
        await using var cmd = FhirStore.Command(connection, sql, used);
        await using var reader = await cmd.ExecuteReaderAsync();
        var result = new List<string>();
        while (await reader.ReadAsync())
        {
            result.Add(reader.GetString(0));
        }

        return result;
    }
}
