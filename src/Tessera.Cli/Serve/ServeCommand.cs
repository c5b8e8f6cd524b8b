using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Tessera.Governance;
using Tessera.Integration.Pipeline;
using Tessera.Web.Hosting;

namespace Tessera.Cli.Serve;

/// <summary><c>tessera serve</c>: runs the web host (FHIR API) on the chosen database.</summary>
internal static class ServeCommand
{
    public const string DefaultUrls = "http://localhost:8080";
    private const int FirstStartPeople = 1000;

    public static Command Create()
    {
        var urls = new Option<string>("--urls") { Description = "Where to listen, e.g. http://0.0.0.0:8080 (several separated by ';').", DefaultValueFactory = _ => DefaultUrls };
        var db = CommonOptions.Database();
        var noDemo = new Option<bool>("--no-demo") { Description = "Do not load the demo region into an empty embedded store." };
        var mllp = new Option<int?>("--mllp") { Description = "Also receive HL7 v2 over MLLP on this port (sources, TLS and address from Tessera:Hl7; see docs/hl7v2.md)." };
        var command = new Command("serve", "Start Tessera: the FHIR R4 API at <url>/fhir. An empty embedded store gets a demo region first.") { urls, db, noDemo, mllp };
        command.SetAction(async (parse, ct) =>
        {
            var location = CommonOptions.Resolve(parse.GetValue(db));
            var listen = parse.GetValue(urls) ?? DefaultUrls;
            if (location.Kind == RecordStore.Storage.DatabaseKind.Sqlite && !parse.GetValue(noDemo))
            {
                // A newcomer's first start shows a living region rather than an empty store.
                await using var store = await RecordStore.FhirStore.OpenAsync(location, ct: ct);
                await using var governance = await store.AddGovernanceAsync(ct: ct);
                if ((await store.CountByTypeAsync(ct)).Count == 0)
                {
                    Console.WriteLine($"The embedded store is empty: loading a demo region of {FirstStartPeople} synthetic people (tessera demo; --no-demo skips this).");
                    await Demo.DemoCommand.LoadAsync(store, new Tessera.Demo.RegionGenerator(new Tessera.Demo.RegionOptions { Patients = FirstStartPeople }), match: false, ct);
                }
            }

            // Settings are read once at start. Reloading them on change watches the whole working directory: every file
            // written beneath it (a log, a database kept there) wakes a watcher thread. With PostgreSQL's data directory
            // beneath it, that thread made two thirds of a busy server's thread switches.
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = ["--hostBuilder:reloadConfigOnChange=false"] });
            builder.Configuration["Tessera:Database"] = location.Kind == RecordStore.Storage.DatabaseKind.Sqlite
                ? "sqlite:" + location.ConnectionString.Split(';')[0]["Data Source=".Length..]
                : location.ConnectionString;
            builder.WebHost.UseUrls(listen);
            builder.AddTessera();
            if (parse.GetValue(mllp) is { } mllpPort)
            {
                builder.Configuration[$"{Hl7FeedOptions.Section}:Port"] = mllpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
                builder.Services.AddHl7Feed(builder.Configuration);
            }

            var app = builder.Build();
            app.UseTessera();
            await app.StartAsync(ct);
            foreach (var url in listen.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                Console.WriteLine($"Tessera is serving FHIR R4 at {url.TrimEnd('/')}/fhir (CapabilityStatement: {url.TrimEnd('/')}/fhir/metadata)");
            }

            if (parse.GetValue(mllp) is { } port)
            {
                Console.WriteLine($"Tessera is receiving HL7 v2 over MLLP on port {port}");
            }

            if (await Tessera.Web.Auth.DemoAccounts.SignInSheetAsync(app.Services.GetRequiredService<RecordStore.FhirStore>(), listen.Split(';')[0], ct) is { } sheet)
            {
                Console.Write(sheet);
            }

            Console.WriteLine($"Database: {location.Describe()}. Press Ctrl+C to stop.");
            await app.WaitForShutdownAsync(ct);
            return 0;
        });
        return command;
    }
}
