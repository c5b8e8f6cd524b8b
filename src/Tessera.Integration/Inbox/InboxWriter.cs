using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Tessera.Integration.Inbox;

/// <summary>
/// Group commit for the inbox: messages arriving on many connections while a commit is in flight are committed
/// together in the next transaction, so each sender still waits for its own durable commit but the database
/// sees one transaction (one fsync) per group rather than per message.
/// </summary>
internal sealed class InboxWriter : IAsyncDisposable
{
    private readonly Hl7Inbox _inbox;
    private readonly int _maxBatch;
    private readonly ILogger _logger;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = false });
    private readonly Task[] _loops;

    public InboxWriter(Hl7Inbox inbox, int maxBatch, int commitLoops, ILogger logger)
    {
        _inbox = inbox;
        _maxBatch = Math.Max(1, maxBatch);
        _logger = logger;
        _loops = [.. Enumerable.Range(0, Math.Max(1, commitLoops)).Select(_ => Task.Run(CommitLoopAsync))];
    }

    /// <summary>Raised after a group is committed (the pipeline wakes on it).</summary>
    public event Action? Committed;

    /// <summary>Completes once the entry is durably committed: true when new, false when its control id was already there.</summary>
    public Task<bool> AddAsync(InboxEntry entry, CancellationToken ct)
    {
        var pending = new Pending(entry, new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_queue.Writer.TryWrite(pending))
        {
            throw new InvalidOperationException("The HL7 inbox is shutting down; the message was not stored.");
        }

        return pending.Done.Task.WaitAsync(ct);
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await Task.WhenAll(_loops);
    }

    private async Task CommitLoopAsync()
    {
        var batch = new List<Pending>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var next))
            {
                batch.Add(next);
            }

            if (batch.Count == 0)
            {
                continue;
            }

            try
            {
                // Not cancellable: once a group is on its way to the database its outcome must reach every sender.
                var fresh = await _inbox.AddAsync([.. batch.Select(p => p.Entry)], CancellationToken.None);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Done.TrySetResult(fresh[i]);
                }

                Committed?.Invoke();
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Committing {Count} HL7 messages to the inbox failed; their senders get AR and resend", batch.Count);
                foreach (var p in batch)
                {
                    p.Done.TrySetException(e);
                }
            }
        }
    }

    private sealed record Pending(InboxEntry Entry, TaskCompletionSource<bool> Done);
}
