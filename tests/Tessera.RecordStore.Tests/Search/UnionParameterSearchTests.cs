using System.Globalization;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Time.Testing;
using Tessera.RecordStore.Search.Reindex;
using Tessera.RecordStore.Storage;
using Tessera.RecordStore.Tests.Infrastructure;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// Union parameters (combo-code, combo-value-quantity, combo-code-value-quantity, ...) are answered from their
/// parts' rows. Every search below is run both ways on the same data, written as the store wrote it before (the
/// unions' own rows as well as their parts'): searching the unions' own rows, as before, and their parts' rows, as
/// now. The answers must be the same, and some are also checked against what they must be.
/// </summary>
public sealed class UnionParameterSearchTests
{
    private const string Loinc = "http://loinc.org";
    private const string Ucum = "http://unitsofmeasure.org";
    private const string Result = "http://example.org/result";
    private const string Absent = "http://terminology.hl7.org/CodeSystem/data-absent-reason";

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Searches_on_unions_answer_as_they_did_from_the_unions_own_rows_and_the_upgrade_deletes_those_rows(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        Dictionary<string, List<string>> before;
        long otherRows;
        await using (var store = await FhirStore.OpenAsync(db.Location))
        {
            var data = await Write(store);
            before = await Answers(store, data, unionsIndexed: true);
            Assert.Equal(before, await Answers(store, data, unionsIndexed: false));
            Expect(before, data);
            Assert.True(await UnionRows(store) > 0);
            otherRows = await AllRows(store) - await UnionRows(store);
        }

        // As a store of the previous schema version left it: the unions' rows are there, and the upgrade deletes them.
        await using (var connection = await OpenAsync(db.Location))
        await using (var downgrade = connection.CreateCommand())
        {
            downgrade.CommandText = "DELETE FROM tessera_schema WHERE version = 2";
            await downgrade.ExecuteNonQueryAsync();
        }

        await using var upgraded = await FhirStore.OpenAsync(db.Location);
        Assert.Equal(0, await UnionRows(upgraded));
        Assert.Equal(otherRows, await AllRows(upgraded));
        Assert.Equal(before, await Answers(upgraded, Data, unionsIndexed: false));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Reindexing_drops_the_unions_rows_and_answers_the_same(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var data = await Write(store);
        var before = await Answers(store, data, unionsIndexed: true);
        Assert.True(await UnionRows(store) > 0);

        store.Registry.UnionsIndexed = false;
        var clock = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-23T12:00:00Z", CultureInfo.InvariantCulture));
        await store.AddSearchOperationsAsync(clock: clock);
        var worker = new ReindexWorker(store, clock, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance) { BatchSize = 3 };
        Assert.Equal(202, (await store.Send("POST", "Observation/$reindex")).Status);
        Assert.True(await worker.RunOnceAsync(int.MaxValue) > 0);

        Assert.Equal(0, await UnionRows(store));
        Assert.Equal(before, await Answers(store, data, unionsIndexed: false));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task An_observation_writes_no_rows_for_unions_and_custom_parameters_keep_their_own(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        Observation Pressure() => new()
        {
            Status = ObservationStatus.Final,
            Code = new CodeableConcept(Loinc, "85354-9"),
            Subject = new ResourceReference("Patient/p1"),
            Effective = new FhirDateTime("2024-05-01"),
            Component = [new() { Code = new CodeableConcept(Loinc, "8480-6"), Value = Mmhg(150) }],
        };

        store.Registry.UnionsIndexed = true;
        var old = await store.CreateAsync(Pressure());
        store.Registry.UnionsIndexed = false;
        var now = await store.CreateAsync(Pressure());
        var oldRows = await RowNames(store, old);
        var nowRows = await RowNames(store, now);
        Assert.Contains("combo-code", oldRows);
        Assert.Equal(oldRows.Where(r => !r.StartsWith("combo-", StringComparison.Ordinal)).Order(StringComparer.Ordinal), nowRows.Order(StringComparer.Ordinal));

        // A custom parameter is never taken for a union: it is indexed under its own code, whatever its expression.
        var custom = CustomSearchParameterTests.Definition("any-code", SearchParamType.Token, "Observation.code | Observation.component.code", ResourceType.Observation);
        Assert.Equal(201, (await store.Send("POST", "SearchParameter", custom)).Status);
        var third = await store.CreateAsync(Pressure());
        Assert.Contains("any-code", await RowNames(store, third));
        Assert.Equal([third], await store.MatchIdsAsync("Observation?any-code=8480-6"));
        // Nor can one take the place of a union's part, so the parts a union relies on are always the core ones.
        var part = CustomSearchParameterTests.Definition("component-code", SearchParamType.Token, "Observation.code", ResourceType.Observation);
        Assert.Equal(422, (await store.Send("POST", "SearchParameter", part)).Status);
        Assert.Equal(new[] { old, now, third }.Order(), await store.MatchIdsAsync("Observation?combo-code=8480-6"));
    }

    /// <summary>What the searches run over: the resources have ids of their own (p1, o1, d1, ...), each database its own.</summary>
    private sealed record TestData(string Tag, string System, string ValueSet);

    private static readonly TestData Data = new("union", "http://example.org/cs/union", "http://example.org/vs/union");

    /// <summary>Writes the test data as the store wrote it before unions were answered from their parts.</summary>
    private static async Task<TestData> Write(FhirStore store)
    {
        var (tag, system) = (Data.Tag, Data.System);
        store.Registry.UnionsIndexed = true;
        Assert.Equal(201, (await store.Send("POST", "CodeSystem", new CodeSystem
        {
            Url = system,
            Status = PublicationStatus.Active,
            Content = CodeSystemContentMode.Complete,
            Concept = [new() { Code = "root", Concept = [new() { Code = "child-a", Concept = [new() { Code = "grandchild" }] }] }, new() { Code = "child-b" }],
        })).Status);
        Assert.Equal(201, (await store.Send("POST", "ValueSet", new ValueSet
        {
            Url = Data.ValueSet,
            Status = PublicationStatus.Active,
            Compose = new ValueSet.ComposeComponent { Include = [new() { System = system, Concept = [new() { Code = "child-a" }, new() { Code = "grandchild" }] }] },
        })).Status);

        foreach (var p in new[] { "p1", "p2", "p3" })
        {
            await Put(store, p, new Patient { Meta = Tagged(tag), Name = [new HumanName { Family = p }] });
        }

        Observation O(string patient, CodeableConcept code) => new() { Meta = Tagged(tag), Status = ObservationStatus.Final, Code = code, Subject = new ResourceReference("Patient/" + patient) };
        // Codes and values on the observation itself.
        var o1 = O("p1", new CodeableConcept(system, "root"));
        o1.Value = Mmhg(150);
        await Put(store, "o1", o1);
        // Codes and values only in components: a panel of two readings.
        var o2 = O("p2", new CodeableConcept(Loinc, "85354-9"));
        o2.Component = [new() { Code = new CodeableConcept(system, "child-a"), Value = Mmhg(150) }, new() { Code = new CodeableConcept(system, "child-b"), Value = Mmhg(80) }];
        await Put(store, "o2", o2);
        // A value in another unit of the same dimension, and a code with text.
        var o3 = O("p3", new CodeableConcept(system, "grandchild", "Fasting glucose", "Glucose (fasting)"));
        o3.Value = new Quantity { Value = 97m, System = Ucum, Code = "mg/dL", Unit = "mg/dL" };
        await Put(store, "o3", o3);
        // No value, for a reason, on the observation and on its component.
        var o4 = O("p1", new CodeableConcept(Loinc, "8302-2"));
        o4.DataAbsentReason = new CodeableConcept(Absent, "asked-declined");
        o4.Component = [new() { Code = new CodeableConcept(Loinc, "8306-3"), DataAbsentReason = new CodeableConcept(Absent, "not-performed") }];
        await Put(store, "o4", o4);
        // Coded values, on the observation and in a component.
        var o5 = O("p2", new CodeableConcept(Loinc, "94500-6"));
        o5.Value = new CodeableConcept(Result, "positive", "Positive");
        o5.Component = [new() { Code = new CodeableConcept(system, "child-b"), Value = new CodeableConcept(Result, "negative", "Negative") }];
        await Put(store, "o5", o5);
        // A code with text only, and a component with a quantity and no code system.
        var o6 = O("p3", new CodeableConcept { Text = "Systolic by hand" });
        o6.Component = [new() { Code = new CodeableConcept { Coding = [new Coding { Code = "manual" }] }, Value = new Quantity { Value = 120m, Unit = "mmHg", Code = "mmHg" } }];
        await Put(store, "o6", o6);
        // A code and nothing else.
        await Put(store, "o7", O("p1", new CodeableConcept(Loinc, "29463-7")));

        DiagnosticReport Report(params string[] results) => new() { Meta = Tagged(tag), Status = DiagnosticReport.DiagnosticReportStatus.Final, Code = new CodeableConcept(Loinc, "24331-1"), Result = [.. results.Select(r => new ResourceReference("Observation/" + r))] };
        await Put(store, "d1", Report("o2"));
        await Put(store, "d2", Report("o1", "o5"));
        await Put(store, "d3", Report("o3", "o4"));
        return Data;
    }

    /// <summary>Every search on a union, each modifier and prefix it takes, chained, reversed and sorted, by name.</summary>
    private static List<string> Searches(TestData data)
    {
        var (s, vs) = (data.System, data.ValueSet);
        string[] observation =
        [
            "combo-code=child-a", $"combo-code={s}|child-b", $"combo-code={s}|root", $"combo-code={s}|", "combo-code=|manual", "combo-code=85354-9",
            "combo-code=child-a,root", "combo-code=child-a&combo-code=child-b", "combo-code=nothing",
            $"combo-code:not={s}|child-a", $"combo-code:not={s}|root,{s}|child-b", "combo-code:not=manual",
            "combo-code:text=systolic", "combo-code:text=fasting", "combo-code:text=glucose",
            "combo-code:missing=true", "combo-code:missing=false",
            $"combo-code:in={vs}", $"combo-code:not-in={vs}", $"combo-code:below={s}|root", $"combo-code:below={s}|child-a", $"combo-code:above={s}|grandchild",
            "combo-value-quantity=150", "combo-value-quantity=gt100", "combo-value-quantity=lt100", "combo-value-quantity=ne150", "combo-value-quantity=ap120",
            $"combo-value-quantity=150|{Ucum}|mm[Hg]", $"combo-value-quantity=0.97|{Ucum}|g/L", $"combo-value-quantity=lt1|{Ucum}|g/L", "combo-value-quantity=97||mg/dL",
            "combo-value-quantity=120||mmHg", "combo-value-quantity=80,97", "combo-value-quantity=gt100&combo-value-quantity=lt100",
            "combo-value-quantity:missing=true", "combo-value-quantity:missing=false",
            $"combo-value-concept={Result}|positive", "combo-value-concept=negative", $"combo-value-concept:not={Result}|positive",
            "combo-value-concept:text=neg", "combo-value-concept:missing=true", "combo-value-concept:missing=false",
            "combo-data-absent-reason=asked-declined", "combo-data-absent-reason=not-performed", $"combo-data-absent-reason:not={Absent}|asked-declined",
            "combo-data-absent-reason:missing=true", "combo-data-absent-reason:missing=false",
            $"combo-code-value-quantity={s}|child-a$150", $"combo-code-value-quantity={s}|child-a$lt90", $"combo-code-value-quantity={s}|child-b$80",
            $"combo-code-value-quantity={s}|root$gt100", $"combo-code-value-quantity={s}|child-b$lt90,{s}|root$150",
            $"combo-code-value-quantity={s}|grandchild$0.97|{Ucum}|g/L", "combo-code-value-quantity=manual$120||mmHg",
            $"combo-code-value-quantity={s}|child-a$gt100&combo-code-value-quantity={s}|child-b$lt100",
            "combo-code-value-quantity:missing=true", "combo-code-value-quantity:missing=false",
            $"combo-code-value-concept={Loinc}|94500-6${Result}|positive", $"combo-code-value-concept={s}|child-b$negative", $"combo-code-value-concept={s}|child-b$positive",
            "combo-code-value-concept:missing=true", "combo-code-value-concept:missing=false",
            "_sort=combo-code", "_sort=-combo-code", "_sort=combo-value-quantity", "_sort=-combo-value-quantity", "_sort=combo-data-absent-reason,-combo-value-concept",
        ];
        string[] chained =
        [
            "DiagnosticReport?result.combo-code=child-a", "DiagnosticReport?result.combo-value-quantity=gt100", $"DiagnosticReport?result:Observation.combo-code:not={s}|child-a",
            $"DiagnosticReport?result.combo-code-value-quantity={s}|child-a$150", "DiagnosticReport?result.combo-value-quantity:missing=true",
            "Patient?_has:Observation:subject:combo-code=child-b", "Patient?_has:Observation:subject:combo-value-quantity=lt100",
            $"Patient?_has:Observation:subject:combo-code-value-concept={s}|child-b$negative", "Patient?_has:Observation:subject:combo-data-absent-reason:missing=false",
            "Patient?_has:Observation:subject:combo-code:text=systolic",
        ];
        return [.. observation.Select(q => "Observation?" + q), .. chained];
    }

    /// <summary>Each search's matches (in the order found when sorted, else by id).</summary>
    private static async Task<Dictionary<string, List<string>>> Answers(FhirStore store, TestData data, bool unionsIndexed)
    {
        store.Registry.UnionsIndexed = unionsIndexed;
        var answers = new Dictionary<string, List<string>>();
        foreach (var search in Searches(data))
        {
            var bundle = await store.SearchAsync($"{search}&_tag=urn:test|{data.Tag}&_count=100");
            var found = bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource.Id!);
            answers[search.Replace(data.System, "S", StringComparison.Ordinal)] = search.Contains("_sort=", StringComparison.Ordinal) ? [.. found] : [.. found.Order(StringComparer.Ordinal)];
        }

        return answers;
    }

    /// <summary>What some of the searches must find, whichever way they are answered.</summary>
    private static void Expect(Dictionary<string, List<string>> answers, TestData data)
    {
        // Most searches find something, so that finding the same both ways says something.
        Assert.True(answers.Values.Count(a => a.Count == 0) <= 5, $"{answers.Values.Count(a => a.Count == 0)} of {answers.Count} searches found nothing");
        Assert.Equal(["o2"], answers["Observation?combo-code=child-a"]);
        Assert.Equal(["o2", "o5"], answers["Observation?combo-code=S|child-b"]);
        Assert.Equal(["o1", "o3", "o4", "o5", "o6", "o7"], answers["Observation?combo-code:not=S|child-a"]);
        Assert.Equal(["o2", "o3"], answers[$"Observation?combo-code:in={data.ValueSet}"]);
        Assert.Equal(["o1", "o2", "o3"], answers["Observation?combo-code:below=S|root"]);
        Assert.Equal(["o6"], answers["Observation?combo-code:text=systolic"]);
        Assert.Equal(["o1", "o2", "o6"], answers["Observation?combo-value-quantity=gt100"]);
        Assert.Equal(["o3"], answers[$"Observation?combo-value-quantity=0.97|{Ucum}|g/L"]);
        Assert.Equal(["o4", "o5", "o7"], answers["Observation?combo-value-quantity:missing=true"]);
        Assert.Equal(["o4"], answers["Observation?combo-data-absent-reason=not-performed"]);
        Assert.Equal(["o2"], answers["Observation?combo-code-value-quantity=S|child-a$150"]);
        Assert.Empty(answers["Observation?combo-code-value-quantity=S|child-a$lt90"]);
        Assert.Equal(["o5"], answers["Observation?combo-code-value-concept=S|child-b$negative"]);
        Assert.Empty(answers["Observation?combo-code-value-concept=S|child-b$positive"]);
        Assert.Equal(["o1", "o2", "o3", "o6"], answers["Observation?combo-code-value-quantity:missing=false"]);
        Assert.Equal(["o4", "o5", "o7"], answers["Observation?combo-code-value-quantity:missing=true"]);
        Assert.Equal(["d1"], answers["DiagnosticReport?result.combo-code=child-a"]);
        Assert.Equal(["d1", "d2"], answers["DiagnosticReport?result.combo-value-quantity=gt100"]);
        Assert.Equal(["p2"], answers["Patient?_has:Observation:subject:combo-code=child-b"]);
        Assert.Equal(["o1", "o2", "o6", "o3", "o4", "o5", "o7"], answers["Observation?_sort=-combo-value-quantity"]);
    }

    private static async Task<long> UnionRows(FhirStore store) => await CountRows(store, "param LIKE 'combo-%'");

    private static async Task<long> AllRows(FhirStore store) => await CountRows(store, "1 = 1");

    private static async Task<long> CountRows(FhirStore store, string condition)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT " + string.Join(" + ", Schema.IndexTableNames.Select(t => $"(SELECT COUNT(*) FROM {t} WHERE {condition})"));
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>The names of one Observation's index rows, one per row.</summary>
    private static async Task<List<string>> RowNames(FhirStore store, string id)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = string.Join(" UNION ALL ", Schema.IndexTableNames.Select(t => $"SELECT param FROM {t} WHERE resource_type = 'Observation' AND id = '{id}'"));
        var names = new List<string>();
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private static async Task<System.Data.Common.DbConnection> OpenAsync(DatabaseLocation location)
    {
        System.Data.Common.DbConnection connection = location.Kind == DatabaseKind.Postgres
            ? new Npgsql.NpgsqlConnection(location.ConnectionString)
            : new Microsoft.Data.Sqlite.SqliteConnection(location.ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    private static Meta Tagged(string tag) => new() { Tag = [new Coding("urn:test", tag)] };

    private static Quantity Mmhg(decimal value) => new() { Value = value, System = Ucum, Code = "mm[Hg]", Unit = "mmHg" };

    private static async System.Threading.Tasks.Task Put(FhirStore store, string id, Resource resource)
    {
        resource.Id = id;
        var response = await store.Send("PUT", $"{resource.TypeName}/{id}", resource);
        Assert.True(response.Status == 201, StoreExtensions.Describe(response));
    }
}
