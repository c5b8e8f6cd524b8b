using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Hosting;
using Tessera.Web.Hosting;

namespace Tessera.Cli.Serve;

/// <summary><c>tessera serve</c>: runs the web host (FHIR API) on the chosen database.</summary>
internal static class ServeCommand
{
    public const string DefaultUrls = "http://localhost:8080";

    public static Command Create()
    {
        var urls = new Option<string>("--urls") { Description = "Where to listen, e.g. http://0.0.0.0:8080 (several separated by ';').", DefaultValueFactory = _ => DefaultUrls };
        var db = CommonOptions.Database();
        var command = new Command("serve", "Start Tessera: the FHIR R4 API at <url>/fhir.") { urls, db };
        command.SetAction(async (parse, ct) =>
        {
            var location = CommonOptions.Resolve(parse.GetValue(db));
            var listen = parse.GetValue(urls) ?? DefaultUrls;
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [] });
            builder.Configuration["Tessera:Database"] = location.Kind == RecordStore.Storage.DatabaseKind.Sqlite
                ? "sqlite:" + location.ConnectionString.Split(';')[0]["Data Source=".Length..]
                : location.ConnectionString;
            builder.WebHost.UseUrls(listen);
            builder.AddTessera();
            var app = builder.Build();
            app.UseTessera();
            await app.StartAsync(ct);
            foreach (var url in listen.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                Console.WriteLine($"Tessera is serving FHIR R4 at {url.TrimEnd('/')}/fhir (CapabilityStatement: {url.TrimEnd('/')}/fhir/metadata)");
            }

            Console.WriteLine($"Database: {location.Describe()}. Press Ctrl+C to stop.");
            await app.WaitForShutdownAsync(ct);
            return 0;
        });
        return command;
    }
}
