using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Tessera.Web.Hosting;

/// <summary>
/// Gives every request a correlation id (the caller's X-Correlation-Id when it sends one), echoes it back,
/// and puts it in the logging scope so every log line of the request carries it.
/// </summary>
internal sealed class CorrelationMiddleware(RequestDelegate next, ILogger<CorrelationMiddleware> logger)
{
    public const string Header = "X-Correlation-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var id = context.Request.Headers[Header].FirstOrDefault();
        if (string.IsNullOrWhiteSpace(id) || id.Length > 128)
        {
            id = context.TraceIdentifier;
        }

        context.Items[Header] = id;
        context.Response.Headers[Header] = id;
        context.Response.Headers["X-Request-Id"] = id;
        using (logger.BeginScope(new Dictionary<string, object> { ["CorrelationId"] = id }))
        {
            await next(context);
        }
    }
}
