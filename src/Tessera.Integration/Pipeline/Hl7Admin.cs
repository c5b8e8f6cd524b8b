using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Integration.Inbox;
using Tessera.Integration.Mapping;
using Tessera.RecordStore;

namespace Tessera.Integration.Pipeline;

/// <summary>Operator actions on the HL7 inbox: counts, the dead letters, and replaying them after a fix.</summary>
public static class Hl7Admin
{
    /// <summary>Messages per state (pending, done, dead).</summary>
    public static async Task<IReadOnlyDictionary<string, long>> CountsAsync(FhirStore store, CancellationToken ct = default)
    {
        var inbox = new Hl7Inbox(store);
        await inbox.MigrateAsync(ct);
        return await inbox.CountAsync(ct);
    }

    /// <summary>The dead letters, oldest first, with the reason each failed.</summary>
    public static async Task<IReadOnlyList<Hl7InboxMessage>> DeadLettersAsync(FhirStore store, int limit = 1000, CancellationToken ct = default)
    {
        var inbox = new Hl7Inbox(store);
        await inbox.MigrateAsync(ct);
        return await inbox.ListAsync(Hl7Inbox.Dead, null, limit, ct);
    }

    /// <summary>
    /// Puts the dead letters (all, or the one with <paramref name="id"/>) back in the queue and processes the queue
    /// until it is empty; returns the replayed messages with their new state (done, or dead again with the reason).
    /// </summary>
    public static async Task<IReadOnlyList<Hl7InboxMessage>> ReplayAsync(FhirStore store, Hl7FeedOptions options, long? id = null, ILoggerFactory? loggers = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var inbox = new Hl7Inbox(store);
        await inbox.MigrateAsync(ct);
        var sources = Hl7Source.From(options.Sources);
        var ids = await inbox.RequeueDeadAsync(id, ct);
        if (id is not null && ids.Count == 0)
        {
            var found = await inbox.ListAsync(null, [id.Value], 1, ct);
            throw new InvalidOperationException(found.Count == 0
                ? $"There is no HL7 message {id} in the inbox; list the dead letters with tessera hl7 status."
                : $"HL7 message {id} is {found[0].State}, not a dead letter; only dead letters are replayed.");
        }

        var pipeline = new Hl7Pipeline(store, sources, (loggers ?? NullLoggerFactory.Instance).CreateLogger<Hl7Pipeline>());
        await pipeline.DrainAsync(Math.Max(1, options.PipelineBatchSize), ct);
        return await inbox.ListAsync(null, ids, ids.Count + 1, ct);
    }
}
