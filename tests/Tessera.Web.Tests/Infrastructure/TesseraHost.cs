using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Logging;
using Tessera.RecordStore.Storage;
using Tessera.Testing;
using Tessera.Web.Hosting;

namespace Tessera.Web.Tests.Infrastructure;

/// <summary>
/// The real Tessera web host (AddTessera/UseTessera) on an in-memory test server, over a fresh database
/// of its own; disposed with its database.
/// </summary>
public sealed class TesseraHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TestDatabase _database;

    private TesseraHost(string backend, WebApplication app, TestDatabase database)
    {
        Backend = backend;
        _app = app;
        _database = database;
        Client = app.GetTestClient();
    }

    public string Backend { get; }

    public HttpClient Client { get; }

    public static async Task<TesseraHost> StartAsync(string backend, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var database = await TestDatabase.CreateAsync(backend);
        try
        {
            var builder = WebApplication.CreateBuilder();
            builder.Configuration["Tessera:Database"] = DatabaseSetting(database.Location);
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                builder.Configuration[key] = value;
            }

            builder.WebHost.UseTestServer();
            builder.AddTessera();

            // Errors (an unhandled exception is logged as one) stay visible; request chatter does not.
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            var app = builder.Build();
            app.UseTessera();
            // A route that fails on purpose, so the server-error path (500 OperationOutcome, correlation id) can be tested.
            app.MapGet("/test/fail", string () => throw new InvalidOperationException("deliberate failure for the test"));
            await app.StartAsync();
            return new TesseraHost(backend, app, database);
        }
        catch
        {
            await database.DisposeAsync();
            throw;
        }
    }

    /// <summary>The Tessera:Database setting for a test database: sqlite:&lt;path&gt;, or the PostgreSQL connection string.</summary>
    private static string DatabaseSetting(DatabaseLocation location)
    {
        if (location.Kind == DatabaseKind.Postgres)
        {
            return location.ConnectionString;
        }

        var dataSource = location.ConnectionString.Split(';')
            .Select(p => p.Trim())
            .First(p => p.StartsWith("Data Source=", StringComparison.OrdinalIgnoreCase));
        return "sqlite:" + dataSource["Data Source=".Length..];
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _database.DisposeAsync();
    }
}

/// <summary>One host per backend for a test class; tests make their own unique data so they can share them.</summary>
public class FhirHosts : IAsyncLifetime
{
    private readonly Dictionary<string, TesseraHost> _hosts = [];

    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    public HttpClient this[string backend] => _hosts[backend].Client;

    protected virtual IReadOnlyDictionary<string, string?>? Settings => null;

    public async Task InitializeAsync()
    {
        var started = await Task.WhenAll(new[] { "sqlite", "postgres" }.Select(b => TesseraHost.StartAsync(b, Settings)));
        foreach (var host in started)
        {
            _hosts[host.Backend] = host;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts.Values)
        {
            await host.DisposeAsync();
        }
    }
}

/// <summary>Hosts that accept request bodies of at most <see cref="MaxBodyBytes"/> bytes.</summary>
public sealed class SmallBodyHosts : FhirHosts
{
    public const int MaxBodyBytes = 1024;

    protected override IReadOnlyDictionary<string, string?> Settings =>
        new Dictionary<string, string?> { ["Tessera:MaxBodyBytes"] = MaxBodyBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) };
}
