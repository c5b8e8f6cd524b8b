using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Infrastructure;

/// <summary>One store per backend for a test class; tests make their own unique data so they can share it.</summary>
public sealed class StoreFixture : IAsyncLifetime
{
    private readonly Dictionary<string, (TestDatabase Database, FhirStore Store)> _stores = [];

    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    public FhirStore this[string backend] => _stores[backend].Store;

    public async Task InitializeAsync()
    {
        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            var db = await TestDatabase.CreateAsync(backend);
            _stores[backend] = (db, await FhirStore.OpenAsync(db.Location));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var (db, store) in _stores.Values)
        {
            await store.DisposeAsync();
            await db.DisposeAsync();
        }
    }
}
