using Hl7.Fhir.Model;
using Microsoft.Extensions.Time.Testing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Search.Reindex;
using Tessera.RecordStore.Tests.Infrastructure;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>$reindex: a resumable background job with progress, failures, and takeover of a job whose worker died.</summary>
public sealed class ReindexTests
{
    private const string Code = "basic-text";

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task A_type_level_job_reports_progress_and_brings_the_index_up_to_date(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var worker = await Worker(store, Clock());
        await Basics(store, 5);
        await AddTextParameter(store);
        Assert.Empty(await Find(store));

        var started = await store.Send("POST", "Basic/$reindex");
        Assert.Equal(202, started.Status);
        Assert.Contains("/$reindex-status?job=", started.ContentLocation, StringComparison.Ordinal);
        var status = started.ContentLocation!;
        var queued = await Status(store, status);
        Assert.Equal(("queued", 5L, 0L), (queued["state"], long.Parse(queued["total"], System.Globalization.CultureInfo.InvariantCulture), long.Parse(queued["done"], System.Globalization.CultureInfo.InvariantCulture)));

        Assert.Equal(1, await worker.RunOnceAsync(1));
        var running = await Status(store, status);
        Assert.Equal("running", running["state"]);
        Assert.Equal("2", running["done"]);
        Assert.StartsWith("Basic/", running["cursor"], StringComparison.Ordinal);
        Assert.Equal(worker.Owner, running["worker"]);

        Assert.Equal(2, await worker.RunOnceAsync(int.MaxValue));
        var completed = await Status(store, status);
        Assert.Equal(("completed", "5", "0"), (completed["state"], completed["done"], completed["failed"]));
        Assert.Equal(5, (await Find(store)).Count);
        Assert.Equal(0, await worker.RunOnceAsync(int.MaxValue));
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task A_job_whose_worker_died_is_taken_over_from_its_cursor(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var clock = Clock();
        var first = await Worker(store, clock);
        var second = await Worker(store, clock);
        await Basics(store, 5);
        await AddTextParameter(store);
        var status = (await store.Send("POST", "Basic/$reindex")).ContentLocation!;

        // The first worker does one batch, then dies.
        Assert.Equal(1, await first.RunOnceAsync(1));
        // While its heartbeat is fresh, nobody else takes the job.
        Assert.Equal(0, await second.RunOnceAsync(int.MaxValue));
        Assert.Equal("running", (await Status(store, status))["state"]);

        // Once it is stale the job is reported stalled, and the next worker resumes it where it stopped.
        clock.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal("stalled", (await Status(store, status))["state"]);
        Assert.Equal(2, await second.RunOnceAsync(int.MaxValue));
        var completed = await Status(store, status);
        Assert.Equal(("completed", "5", second.Owner), (completed["state"], completed["done"], completed["worker"]));
        Assert.Equal(5, (await Find(store)).Count);
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task A_resource_that_cannot_be_indexed_is_recorded_and_skipped(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        await using var store = await FhirStore.OpenAsync(db.Location);
        var worker = await store.AddSearchOperationsAsync();
        var ids = await Basics(store, 3);
        await AddTextParameter(store);
        // A stored version the parser refuses (as if written by an older release with a bug).
        await store.WriteAsync(tx => tx.ExecuteAsync(
            "UPDATE resource_version SET json = @j WHERE resource_type = 'Basic' AND id = @id", CancellationToken.None,
            ("j", "{\"resourceType\":\"Basic\",\"code\":"), ("id", ids[1])));

        var status = (await store.Send("POST", "$reindex")).ContentLocation!;
        await worker.RunOnceAsync(int.MaxValue);
        var report = await StatusResource(store, status);
        var values = Flatten(report);
        Assert.Equal("completed", values["state"]);
        Assert.Equal("1", values["failed"]);
        Assert.Equal(values["total"], (long.Parse(values["done"], System.Globalization.CultureInfo.InvariantCulture) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        var failure = Assert.Single(report.Parameter, p => p.Name == "failure");
        Assert.Equal($"Basic/{ids[1]}", failure.Part.Single(p => p.Name == "resource").Value.ToString());
        Assert.False(string.IsNullOrWhiteSpace(failure.Part.Single(p => p.Name == "reason").Value.ToString()));
        Assert.Contains(ids[1], values["lastError"], StringComparison.Ordinal);
        Assert.Equal(new[] { ids[0], ids[2] }.Order(), (await Find(store)).Order());

        Assert.Equal(404, (await store.Send("GET", "$reindex-status?job=nope")).Status);
        Assert.Equal(405, (await store.Send("GET", "$reindex")).Status);
    }

    private static async Task<List<string>> Basics(FhirStore store, int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var response = await store.Send("POST", "Basic", new Basic { Code = new CodeableConcept { Text = $"alpha {i}" } });
            Assert.Equal(201, response.Status);
            ids.Add(response.Id!);
        }

        return ids;
    }

    private static async System.Threading.Tasks.Task AddTextParameter(FhirStore store)
    {
        var response = await store.Send("POST", "SearchParameter", CustomSearchParameterTests.Definition(Code, SearchParamType.String, "Basic.code.text", ResourceType.Basic));
        Assert.True(response.Status == 201, StoreExtensions.Describe(response));
    }

    private static async Task<List<string>> Find(FhirStore store) =>
        [.. (await store.SearchAsync($"Basic?{Code}=alpha&_count=100")).Entry.Select(e => e.Resource.Id!)];

    private static async Task<Parameters> StatusResource(FhirStore store, string contentLocation)
    {
        var relative = contentLocation[(contentLocation.IndexOf("$reindex-status", StringComparison.Ordinal))..];
        var response = await store.Send("GET", relative);
        Assert.True(response.Status == 200, StoreExtensions.Describe(response));
        return (Parameters)response.Resource!;
    }

    private static async Task<Dictionary<string, string>> Status(FhirStore store, string contentLocation) => Flatten(await StatusResource(store, contentLocation));

    private static Dictionary<string, string> Flatten(Parameters parameters) =>
        parameters.Parameter.Where(p => p.Value is not null).GroupBy(p => p.Name!).ToDictionary(g => g.Key, g => g.First().Value.ToString() ?? string.Empty);

    private static FakeTimeProvider Clock() => new(DateTimeOffset.Parse("2026-11-23T12:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>A worker with small batches, so a handful of resources takes several.</summary>
    private static async Task<ReindexWorker> Worker(FhirStore store, TimeProvider clock)
    {
        await store.AddSearchOperationsAsync(clock: clock);
        return new ReindexWorker(store, clock, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance) { BatchSize = 2 };
    }
}
