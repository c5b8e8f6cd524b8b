using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Tessera.RecordStore;

namespace Tessera.Integration.Pipeline;

/// <summary>Runs the HL7 v2 feed beside the web host.</summary>
public static class Hl7FeedHosting
{
    /// <summary>Adds the feed as a hosted service, configured from the section <c>Tessera:Hl7</c>.</summary>
    public static IServiceCollection AddHl7Feed(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<Hl7FeedOptions>().Bind(configuration.GetSection(Hl7FeedOptions.Section));
        services.AddHostedService<Hl7FeedService>();
        return services;
    }

    private sealed class Hl7FeedService(FhirStore store, IOptions<Hl7FeedOptions> options, ILoggerFactory loggers) : IHostedService
    {
        private Hl7Feed? _feed;

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            _feed = await Hl7Feed.StartAsync(store, options.Value, loggers, cancellationToken);
            if (_feed.MllpEndPoint is { } endPoint)
            {
                loggers.CreateLogger("Tessera").LogInformation("HL7 v2 over MLLP on {EndPoint} ({Sources} sources)", endPoint, options.Value.Sources.Count);
            }
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            if (_feed is not null)
            {
                await _feed.DisposeAsync();
            }
        }
    }
}
