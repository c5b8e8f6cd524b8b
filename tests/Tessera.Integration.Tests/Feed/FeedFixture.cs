using Tessera.Integration.Pipeline;
using Tessera.RecordStore;
using Tessera.Testing;

namespace Tessera.Integration.Tests.Feed;

/// <summary>
/// One store and one running feed (MLLP on a free loopback port) per backend. The pipeline does not run by itself;
/// tests drain it when they want messages processed, so every assertion sees a settled state.
/// </summary>
public sealed class FeedFixture : IAsyncLifetime
{
    private readonly Dictionary<string, (TestDatabase Database, FhirStore Store, Hl7Feed Feed)> _feeds = [];

    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    public static Hl7FeedOptions Options(int? port = 0) => new()
    {
        Port = port,
        RunPipeline = false,
        Sources = [Messages.Source],
    };

    public FhirStore Store(string backend) => _feeds[backend].Store;

    public Hl7Feed Feed(string backend) => _feeds[backend].Feed;

    public async Task InitializeAsync()
    {
        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            var db = await TestDatabase.CreateAsync(backend);
            var store = await FhirStore.OpenAsync(db.Location);
            _feeds[backend] = (db, store, await Hl7Feed.StartAsync(store, Options()));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var (db, store, feed) in _feeds.Values)
        {
            await feed.DisposeAsync();
            await store.DisposeAsync();
            await db.DisposeAsync();
        }
    }
}
