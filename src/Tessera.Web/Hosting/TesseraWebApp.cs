using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.Governance;
using Tessera.Identity.Index;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Search.Reindex;
using Tessera.RecordStore.Storage;
using Tessera.Web.Auth;
using Tessera.Web.Fhir;

namespace Tessera.Web.Hosting;

/// <summary>Builds the Tessera web host: the FHIR API at /fhir on a record store opened at start-up.</summary>
public static class TesseraWebApp
{
    /// <summary>Registers Tessera's services and options on a builder (used by `tessera serve` and the tests).</summary>
    public static WebApplicationBuilder AddTessera(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<TesseraOptions>()
            .Bind(builder.Configuration.GetSection(TesseraOptions.Section))
            .PostConfigure(o => o.Database = Environment.GetEnvironmentVariable("TESSERA_DB") is { Length: > 0 } env && builder.Configuration[$"{TesseraOptions.Section}:Database"] is null ? env : o.Database);
        builder.Services.AddOptions<MpiOptions>().Bind(builder.Configuration.GetSection(MpiOptions.Section));
        builder.Services.AddOptions<GovernanceOptions>().Bind(builder.Configuration.GetSection("Governance"));
        builder.Services.AddSingleton<StoreHolder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StoreHolder>());
        builder.Services.AddSingleton(sp => sp.GetRequiredService<StoreHolder>().Store);
        AuthServices.Add(builder);
        builder.Services.AddSingleton(sp => sp.GetRequiredService<StoreHolder>().Identity);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.IncludeScopes = true;
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        // One line per request at Information would dominate the log and the CPU; Tessera logs its own events.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = null);
        return builder;
    }

    /// <summary>Maps Tessera's middleware and endpoints.</summary>
    public static WebApplication UseTessera(this WebApplication app)
    {
        app.UseMiddleware<CorrelationMiddleware>();
        app.UseExceptionHandler(handler => handler.Run(async context =>
        {
            var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
            if (context.Items[CorrelationMiddleware.Header] is string correlation)
            {
                // The exception handler cleared the headers; the caller still needs the id to quote.
                context.Response.Headers[CorrelationMiddleware.Header] = correlation;
                context.Response.Headers["X-Request-Id"] = correlation;
            }

            var status = error is BadHttpRequestException bad ? bad.StatusCode : 500;
            var message = status == 500
                ? $"An internal error occurred; quote correlation id {context.Items[CorrelationMiddleware.Header]} to the service desk."
                : error?.Message ?? "Bad request.";
            await FhirResponseWriter.WriteOutcomeAsync(context, status, Outcomes.Error(status == 500 ? Hl7.Fhir.Model.OperationOutcome.IssueType.Exception : Hl7.Fhir.Model.OperationOutcome.IssueType.Invalid, message));
        }));
        AuthServices.Use(app);
        app.MapGet("/", () => Results.Redirect("/fhir/metadata"));
        app.MapGet("/healthz", async (FhirStore store, CancellationToken ct) =>
        {
            await store.CountByTypeAsync(ct);
            return Results.Text("ok");
        });
        FhirEndpoints.Map(app);
        return app;
    }

    /// <summary>Opens the store when the host starts, so a bad database setting stops start-up with a clear message.</summary>
    internal sealed class StoreHolder(IOptions<TesseraOptions> options, IOptions<MpiOptions> identityOptions, IOptions<GovernanceOptions> governanceOptions, ILoggerFactory loggers) : IHostedService, IAsyncDisposable
    {
        private readonly CancellationTokenSource _stopping = new();
        private FhirStore? _store;
        private MasterPatientIndex? _identity;
        private Task? _identityWorker;
        private StoreGovernance? _governance;
        private ReindexWorker? _reindex;
        private Task? _reindexWorker;

        /// <summary>
        /// Governance on the store: the access policy for every signed-in caller, the audit trail, break-glass. None
        /// only on the benchmark's ungoverned baseline (<see cref="TesseraOptions.Ungoverned"/>).
        /// </summary>
        public StoreGovernance? Governance => Store is not null ? _governance : throw new InvalidOperationException("The store is not open.");

        public FhirStore Store => _store ?? OpenSync();

        /// <summary>The master patient index on the store (its operations are registered when the store opens).</summary>
        public MasterPatientIndex Identity
        {
            get
            {
                _ = Store;
                return _identity!;
            }
        }

        private FhirStore OpenSync()
        {
            lock (this)
            {
                if (_store is null)
                {
                    var location = DatabaseLocation.Parse(options.Value.Database);
                    var store = FhirStore.OpenAsync(location, loggers).GetAwaiter().GetResult();
                    _identity = store.AddIdentityAsync(identityOptions.Value, loggers).GetAwaiter().GetResult();
                    _governance = options.Value.Ungoverned ? null : store.AddGovernanceAsync(governanceOptions.Value, loggers).GetAwaiter().GetResult();
                    _reindex = store.AddSearchOperationsAsync(loggers).GetAwaiter().GetResult();
                    _store = store;
                    loggers.CreateLogger("Tessera").LogInformation("Record store open on {Database}", location.Describe());
                }

                return _store;
            }
        }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            _ = Store;
            if (identityOptions.Value.RunWorker)
            {
                // Every Patient written is matched by following the store's version log (docs/mpi.md).
                _identityWorker = Task.Run(() => Identity.RunAsync(_stopping.Token), CancellationToken.None);
            }

            // $reindex jobs run in the background, taken over from a node that stopped (docs/fhir-api.md).
            _reindexWorker = Task.Run(() => _reindex!.RunAsync(_stopping.Token), CancellationToken.None);
            return Task.CompletedTask;
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            await _stopping.CancelAsync();
            if (_identityWorker is not null)
            {
                await _identityWorker.WaitAsync(cancellationToken);
            }

            if (_reindexWorker is not null)
            {
                await _reindexWorker.WaitAsync(cancellationToken);
            }

            // The web server and the feeds stopped before this (hosted services stop in reverse order): drain the
            // audit trail now, while the store is open. The container disposes the store it handed out before
            // this holder, so a drain left to DisposeAsync would find it closed and lose the reads' queued events.
            if (_governance is not null)
            {
                await _governance.DisposeAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _stopping.Dispose();
            if (_governance is not null)
            {
                await _governance.DisposeAsync();
            }

            if (_store is not null)
            {
                await _store.DisposeAsync();
            }
        }
    }
}
