using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Machinery;

public sealed class StoreTransactionTests(StoreFixture stores) : IClassFixture<StoreFixture>
{
    private static readonly PartMigration[] Steps =
    [
        new("CREATE TABLE test_inbox (id TEXT PRIMARY KEY, state TEXT NOT NULL)", "CREATE TABLE test_inbox (id text PRIMARY KEY, state text NOT NULL)"),
        new("ALTER TABLE test_inbox ADD COLUMN note TEXT", "ALTER TABLE test_inbox ADD COLUMN note text"),
    ];

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Part_rows_and_fhir_writes_commit_or_roll_back_together(string backend)
    {
        var store = stores[backend];
        await store.MigratePartAsync("test", Steps);
        await store.MigratePartAsync("test", Steps); // a second start applies nothing

        var committed = await store.WriteAsync(async tx =>
        {
            var created = await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient", new Patient { Gender = AdministrativeGender.Male }), tx);
            await tx.ExecuteAsync("INSERT INTO test_inbox (id, state, note) VALUES (@id, 'done', 'ok')", default, ("@id", created.Id));
            return created.Id!;
        });

        string? rolledBack = null;
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync<int>(async tx =>
        {
            var created = await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient", new Patient()), tx);
            rolledBack = created.Id;
            await tx.ExecuteAsync("INSERT INTO test_inbox (id, state) VALUES (@id, 'done')", default, ("@id", created.Id));
            throw new InvalidOperationException("mapping failed");
        }));

        Assert.Equal(200, (await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"Patient/{committed}"))).Status);
        Assert.Equal(404, (await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"Patient/{rolledBack}"))).Status);
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT COUNT(*) FROM test_inbox";
        Assert.Equal(1, Convert.ToInt32(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Work_queued_for_the_commit_runs_once_with_every_item_inside_the_transaction(string backend)
    {
        var store = stores[backend];
        await store.MigratePartAsync("queued", [new("CREATE TABLE test_queued (item TEXT NOT NULL, run INTEGER NOT NULL)", "CREATE TABLE test_queued (item text NOT NULL, run integer NOT NULL)")]);
        var runs = new List<IReadOnlyList<string>>();
        System.Threading.Tasks.Task Run(StoreTransaction tx, IReadOnlyList<string> items, CancellationToken ct)
        {
            runs.Add([.. items]);
            return InsertAsync(tx, items, runs.Count, ct);
        }

        await store.WriteAsync(async tx =>
        {
            tx.BeforeCommit("test", "first", Run);
            await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient", new Patient()), tx);
            tx.BeforeCommit("test", "second", Run);
            Assert.Empty(runs);
            return 0;
        });
        await Assert.ThrowsAsync<InvalidOperationException>(() => store.WriteAsync<int>(tx =>
        {
            tx.BeforeCommit("test", "rolled back", Run);
            throw new InvalidOperationException("mapping failed");
        }));

        var queued = Assert.Single(runs);
        Assert.Equal(["first", "second"], queued);
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "SELECT item FROM test_queued WHERE run = 1 ORDER BY item";
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        Assert.Equal(["first", "second"], rows);
    }

    private static async System.Threading.Tasks.Task InsertAsync(StoreTransaction tx, IReadOnlyList<string> items, int run, CancellationToken ct)
    {
        foreach (var item in items)
        {
            await tx.ExecuteAsync("INSERT INTO test_queued (item, run) VALUES (@item, @run)", ct, ("@item", item), ("@run", run));
        }
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task A_database_newer_than_the_code_is_refused(string backend)
    {
        var store = stores[backend];
        await store.MigratePartAsync("newer", [new("CREATE TABLE test_newer (x INTEGER)", "CREATE TABLE test_newer (x integer)"), new("SELECT 1", "SELECT 1")]);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => store.MigratePartAsync("newer", [new("CREATE TABLE test_newer (x INTEGER)", "CREATE TABLE test_newer (x integer)")]));
        Assert.Contains("newer than this Tessera knows", error.Message, StringComparison.Ordinal);
    }
}
