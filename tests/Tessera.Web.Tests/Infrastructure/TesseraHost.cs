using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tessera.RecordStore.Storage;
using Tessera.Testing;
using Tessera.Web.Auth;
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

    /// <summary>The client the tests use by default: a system registered with system/*.cruds.</summary>
    public const string TestClientId = "tessera-tests";
    public const string TestClientScopes = "system/*.cruds";

    private TesseraHost(string backend, WebApplication app, TestDatabase database, string token)
    {
        Backend = backend;
        _app = app;
        _database = database;
        Client = app.GetTestClient();
        Client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        Anonymous = app.GetTestClient();
    }

    public string Backend { get; }

    /// <summary>A client with a real access token for system/*.cruds, from the real token endpoint.</summary>
    public HttpClient Client { get; }

    /// <summary>A client without a token.</summary>
    public HttpClient Anonymous { get; }

    public IServiceProvider Services => _app.Services;

    public TestServer Server => _app.GetTestServer();

    /// <summary>Registers a client (as tessera clients add does).</summary>
    public async Task AddClientAsync(string id, string? secret, string scopes, string grant = ClientRegistry.ClientCredentials, params string[] redirectUris)
    {
        await using var scope = _app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<ClientRegistry>().AddAsync(new NewClient(id, secret, scopes.Split(' '), grant, redirectUris), default);
    }

    /// <summary>Runs the client credentials grant; returns the token endpoint's status and JSON.</summary>
    public static async Task<(HttpStatusCode Status, JsonElement Body)> ClientCredentialsAsync(HttpClient http, string id, string secret, string? scope)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials", ["client_id"] = id, ["client_secret"] = secret };
        if (scope is not null)
        {
            form["scope"] = scope;
        }

        using var response = await http.PostAsync("/auth/token", new FormUrlEncodedContent(form));
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>A client that sends the given access token.</summary>
    public HttpClient WithToken(string token)
    {
        var client = _app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static async Task<TesseraHost> StartAsync(string backend, IReadOnlyDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var database = await TestDatabase.CreateAsync(backend);
        try
        {
            var builder = WebApplication.CreateBuilder();
            builder.Configuration["Tessera:Database"] = DatabaseSetting(database.Location);

            // The index's background worker writes master Patients; contract tests that check "nothing was
            // written" must not see it. Tests of the worker turn it on with Tessera:Identity:RunWorker=true.
            builder.Configuration["Tessera:Identity:RunWorker"] = "false";
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                builder.Configuration[key] = value;
            }

            builder.WebHost.UseTestServer();
            services?.Invoke(builder.Services);
            builder.AddTessera();

            // Errors (an unhandled exception is logged as one) stay visible; request chatter does not.
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            var app = builder.Build();
            app.UseTessera();
            // A route that fails on purpose, so the server-error path (500 OperationOutcome, correlation id) can be tested.
            app.MapGet("/test/fail", string () => throw new InvalidOperationException("deliberate failure for the test"));
            await app.StartAsync();

            // The default client signs in like any system: registered, then a token from the real token endpoint.
            var secret = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(24));
            await using (var scope = app.Services.CreateAsyncScope())
            {
                await scope.ServiceProvider.GetRequiredService<ClientRegistry>().AddAsync(new NewClient(TestClientId, secret, [TestClientScopes], ClientRegistry.ClientCredentials, []), default);
            }

            using var raw = app.GetTestClient();
            var (status, body) = await ClientCredentialsAsync(raw, TestClientId, secret, TestClientScopes);
            if (status != HttpStatusCode.OK)
            {
                throw new InvalidOperationException($"The test client got no token: {status} {body}");
            }

            return new TesseraHost(backend, app, database, body.GetProperty("access_token").GetString()!);
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

    /// <summary>The host's database (it outlives <see cref="StopAsync"/>).</summary>
    public DatabaseLocation Database => _database.Location;

    private bool _stopped;

    /// <summary>Shuts the host down as the process would on SIGTERM, keeping its database.</summary>
    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            Client.Dispose();
            Anonymous.Dispose();
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _database.DisposeAsync();
    }
}

/// <summary>One host per backend for a test class; tests make their own unique data so they can share them.</summary>
public class FhirHosts : IAsyncLifetime
{
    private readonly Dictionary<string, TesseraHost> _hosts = [];

    public static TheoryData<string> Backends => new() { "sqlite", "postgres" };

    public HttpClient this[string backend] => _hosts[backend].Client;

    public TesseraHost Host(string backend) => _hosts[backend];

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
