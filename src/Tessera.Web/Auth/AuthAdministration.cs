using Microsoft.Extensions.DependencyInjection;
using Tessera.RecordStore;

namespace Tessera.Web.Auth;

/// <summary>Users and clients for the command line (tessera users, tessera clients), on the same tables as the host.</summary>
internal sealed class AuthAdministration : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private AuthAdministration(FhirStore store, ServiceProvider services)
    {
        _services = services;
        Users = new UserAccounts(store, TimeProvider.System, new AuthOptions());
    }

    public UserAccounts Users { get; }

    public static async Task<AuthAdministration> OpenAsync(FhirStore store, CancellationToken ct)
    {
        await AuthDatabase.MigrateAsync(store, ct);
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddDbContext<AuthDbContext>(o => AuthDbContext.Configure(o, store.Location));
        services.AddOpenIddict().AddCore(o => o.UseEntityFrameworkCore().UseDbContext<AuthDbContext>());
        services.AddScoped<ClientRegistry>();
        return new AuthAdministration(store, services.BuildServiceProvider());
    }

    public async Task<T> ClientsAsync<T>(Func<ClientRegistry, Task<T>> work)
    {
        await using var scope = _services.CreateAsyncScope();
        return await work(scope.ServiceProvider.GetRequiredService<ClientRegistry>());
    }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
