using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Tests.Infrastructure;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Concurrency;

/// <summary>The guarantees that other FHIR servers have broken: atomic conditional create and If-Match.</summary>
public class ConcurrencyTests(StoreFixture stores) : IClassFixture<StoreFixture>
{
    private const int Parallel = 50;

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Fifty_parallel_conditional_creates_make_exactly_one_resource(string backend)
    {
        var store = stores[backend];
        var system = "urn:test:" + StoreExtensions.Unique();
        var responses = await AllAtOnceAsync(Parallel, _ =>
        {
            var patient = new Patient { Identifier = [new Identifier(system, "same")], Name = [new HumanName { Family = "Race" }] };
            return store.Send("POST", "Patient", patient, r => r with { IfNoneExist = $"identifier={system}|same" });
        });

        Assert.All(responses, r => Assert.True(r.Status is 200 or 201, $"status {r.Status}: {StoreExtensions.Describe(r)}"));
        Assert.Equal(1, responses.Count(r => r.Status == 201));
        Assert.Single(responses.Select(r => r.Id).Distinct());
        var found = await store.SearchAsync($"Patient?identifier={system}|same");
        Assert.Equal(1, found.Total);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Fifty_parallel_updates_with_one_if_match_make_exactly_one_version(string backend)
    {
        var store = stores[backend];
        var created = await store.Send("POST", "Patient", new Patient { Name = [new HumanName { Family = "Contended" }] });
        var responses = await AllAtOnceAsync(Parallel, i =>
        {
            var patient = new Patient { Id = created.Id, Name = [new HumanName { Family = "Writer" + i }] };
            return store.Send("PUT", $"Patient/{created.Id}", patient, r => r with { IfMatch = "W/\"1\"" });
        });

        Assert.Equal(1, responses.Count(r => r.Status == 200));
        Assert.Equal(Parallel - 1, responses.Count(r => r.Status == 412));
        var history = (Bundle)(await store.Send("GET", $"Patient/{created.Id}/_history")).Resource!;
        Assert.Equal(2, history.Entry.Count);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Parallel_unconditional_updates_each_get_their_own_version(string backend)
    {
        var store = stores[backend];
        var created = await store.Send("POST", "Patient", new Patient { Name = [new HumanName { Family = "Busy" }] });
        var tasks = Enumerable.Range(0, 20).Select(i =>
            store.Send("PUT", $"Patient/{created.Id}", new Patient { Id = created.Id, Name = [new HumanName { Family = "V" + i }] })).ToList();
        var responses = await System.Threading.Tasks.Task.WhenAll(tasks);
        Assert.All(responses, r => Assert.Equal(200, r.Status));
        Assert.Equal(Enumerable.Range(2, 20).Select(v => (long?)v), responses.Select(r => r.Version).Order());
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Parallel_updates_as_create_of_one_new_id_make_one_resource_and_versions_in_turn(string backend)
    {
        var store = stores[backend];
        var id = "race-" + StoreExtensions.Unique();
        var responses = await AllAtOnceAsync(20, i => store.Send("PUT", $"Patient/{id}", new Patient { Id = id, Name = [new HumanName { Family = "Racer" + i }] }));

        Assert.All(responses, r => Assert.True(r.Status is 200 or 201, $"status {r.Status}: {StoreExtensions.Describe(r)}"));
        Assert.Equal(1, responses.Count(r => r.Status == 201));
        Assert.Equal(Enumerable.Range(1, 20).Select(v => (long?)v), responses.Select(r => r.Version).Order());
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task A_create_that_fails_in_the_database_leaves_nothing_and_the_store_carries_on(string backend)
    {
        // On PostgreSQL a create's writes are held back and sent with the COMMIT in one batch: a statement that fails
        // must stop the commit, and the connection must come back to the pool usable. A trigger fails the search index
        // write of one patient, the last statement before the COMMIT (the database refusing a write: a full disk, a
        // constraint added by an operator).
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using (var connection = await store.OpenConnectionAsync())
        {
            await using var trigger = connection.CreateCommand();
            trigger.CommandText = backend == "postgres"
                ? """
                  CREATE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
                  CREATE TRIGGER refuse_write BEFORE INSERT ON idx_string FOR EACH ROW WHEN (NEW.value_norm = 'refused') EXECUTE FUNCTION refuse_write();
                  """
                : "CREATE TRIGGER refuse_write BEFORE INSERT ON idx_string WHEN NEW.value_norm = 'refused' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;";
            await trigger.ExecuteNonQueryAsync();
        }

        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => store.Send("POST", "Patient", new Patient { Name = [new HumanName { Family = "Refused" }] }));
        Assert.Equal(0, (await store.SearchAsync("Patient")).Total);

        // The connection the refused create gave back to the pool serves the writes that follow: it was not left in a
        // failed transaction.
        for (var i = 0; i < 20; i++)
        {
            var created = await store.Send("POST", "Patient", new Patient { Name = [new HumanName { Family = "After" }] });
            Assert.Equal(201, created.Status);
        }

        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => store.Send("POST", "Patient", new Patient { Name = [new HumanName { Family = "Refused" }] }));
        Assert.Equal(20, (await store.SearchAsync("Patient?family=After")).Total);
        Assert.Equal(0, (await store.SearchAsync("Patient?family=Refused")).Total);

        // Not a row of the refused creates anywhere: resources, versions, search index.
        await using var check = await store.OpenConnectionAsync();
        foreach (var table in new[] { "resource", "resource_version", "idx_string", "idx_token" })
        {
            await using var count = check.CreateCommand();
            count.CommandText = $"SELECT COUNT(DISTINCT id) FROM {table}";
            Assert.Equal(20L, Convert.ToInt64(await count.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Starts <paramref name="count"/> requests and releases them together, so that they race.</summary>
    private static async System.Threading.Tasks.Task<FhirResponse[]> AllAtOnceAsync(int count, Func<int, System.Threading.Tasks.Task<FhirResponse>> send)
    {
        var start = new TaskCompletionSource();
        var tasks = Enumerable.Range(0, count).Select(async i =>
        {
            await start.Task;
            return await send(i);
        }).ToList();
        start.SetResult();
        return await System.Threading.Tasks.Task.WhenAll(tasks);
    }
}
