using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Integration.Hl7;
using Tessera.Integration.Inbox;
using Tessera.Integration.Mapping;
using Tessera.Integration.Mllp;
using Tessera.RecordStore;
using Tessera.RecordStore.Storage;

namespace Tessera.Integration.Pipeline;

/// <summary>
/// The HL7 v2 feed on one node: the MLLP listener that commits each message to the inbox before acknowledging it,
/// and the pipeline that maps stored messages to FHIR in the background.
/// </summary>
public sealed class Hl7Feed : IAsyncDisposable
{
    private readonly InboxWriter _writer;
    private readonly MllpListener? _listener;
    private readonly Hl7Receiver _receiver;
    private long _files;
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake;
    private readonly int _workers;
    private readonly Task? _worker;
    private readonly ILogger _logger;
    private bool _stopped;

    private Hl7Feed(FhirStore store, Hl7FeedOptions options, IReadOnlyList<Hl7Source> sources, ILoggerFactory loggers)
    {
        _logger = loggers.CreateLogger<Hl7Feed>();
        _workers = Math.Max(1, options.PipelineWorkers ?? (store.Kind == DatabaseKind.Postgres ? 2 : 1));
        _wake = new SemaphoreSlim(0, _workers);
        Inbox = new Hl7Inbox(store);
        Pipeline = new Hl7Pipeline(store, sources, loggers.CreateLogger<Hl7Pipeline>());
        _writer = new InboxWriter(Inbox, options.MaxCommitBatch, store.Kind == DatabaseKind.Postgres ? 2 : 1, _logger);
        _writer.Committed += Wake;
        _receiver = new Hl7Receiver(sources, _writer, loggers.CreateLogger<Hl7Receiver>());
        if (options.Port is { } port)
        {
            _listener = new MllpListener(ListenerOptions(options, port), _receiver.HandleAsync, loggers.CreateLogger<MllpListener>());
        }

        if (options.RunPipeline)
        {
            // Workers claim different messages (SKIP LOCKED) and never two of one patient at once (Hl7Inbox.ClaimAsync).
            _worker = Task.WhenAll(Enumerable.Range(0, _workers).Select(_ => Task.Run(() => WorkAsync(Math.Max(1, options.PipelineBatchSize), options.PipelinePollInterval, _stopping.Token))));
        }
    }

    /// <summary>Where the MLLP listener listens, when it runs.</summary>
    public IPEndPoint? MllpEndPoint => _listener?.LocalEndPoint;

    internal Hl7Inbox Inbox { get; }

    internal Hl7Pipeline Pipeline { get; }

    /// <summary>
    /// The inbox path for files: takes the text of a file holding a message, several messages or an HL7 batch
    /// (FHS/BHS … BTS/FTS), and stores each message exactly as if it had arrived over MLLP — each durably committed
    /// and acknowledged on its own (AA, or AE/AR with the reason; a control id already received is acknowledged
    /// and not stored again). The batch's counts are checked against BTS/FTS; what does not add up is in the
    /// result's <see cref="Hl7Batch.Problems"/>, and the messages that are there are stored all the same.
    /// </summary>
    public async Task<(Hl7Batch Batch, IReadOnlyList<Hl7Message> Acks)> AcceptFileAsync(string text, string origin, CancellationToken ct = default)
    {
        var batch = Hl7Batch.Split(text);
        var acks = new List<Hl7Message>(batch.Messages.Count);
        var connection = -Interlocked.Increment(ref _files);
        foreach (var message in batch.Messages)
        {
            var received = new MllpMessage(System.Text.Encoding.UTF8.GetBytes(message), new FileEndPoint(origin), connection, DateTimeOffset.UtcNow);
            acks.Add(Hl7Message.Parse(await _receiver.HandleAsync(received, ct), Hl7ParseOptions.Lenient));
        }

        return (batch, acks);
    }

    /// <summary>Maps and writes every pending message now (for the command line when no server runs the pipeline); returns how many.</summary>
    public Task<int> ProcessPendingAsync(CancellationToken ct = default) => Pipeline.DrainAsync(32, ct);

    /// <summary>Where a message read from a file came from, recorded in the inbox like a sender's address.</summary>
    private sealed class FileEndPoint(string origin) : EndPoint
    {
        public override string ToString() => "file:" + origin;
    }

    /// <summary>Creates the inbox tables if needed, then starts listening and processing.</summary>
    public static async Task<Hl7Feed> StartAsync(FhirStore store, Hl7FeedOptions options, ILoggerFactory? loggers = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        var sources = Hl7Source.From(options.Sources);
        await new Hl7Inbox(store).MigrateAsync(ct);
        var feed = new Hl7Feed(store, options, sources, loggers ?? NullLoggerFactory.Instance);
        feed._listener?.Start();
        if (sources.Count == 0)
        {
            feed._logger.LogWarning("No HL7 sources are configured (Tessera:Hl7:Sources): every message will be refused with AR");
        }

        return feed;
    }

    /// <summary>Stops accepting messages, lets the commits in flight finish, and stops the pipeline after its current batch.</summary>
    public async Task StopAsync(CancellationToken ct = default)
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        if (_listener is not null)
        {
            await _listener.StopAsync(ct);
        }

        await _writer.DisposeAsync();
        await _stopping.CancelAsync();
        if (_worker is not null)
        {
            await _worker.WaitAsync(ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_listener is not null)
        {
            await _listener.DisposeAsync();
        }

        _stopping.Dispose();
        _wake.Dispose();
    }

    private void Wake()
    {
        try
        {
            if (_wake.CurrentCount < _workers)
            {
                _wake.Release(_workers - _wake.CurrentCount);
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
        catch (ObjectDisposedException)
        {
            // Stopped.
        }
    }

    private async Task WorkAsync(int batchSize, TimeSpan poll, CancellationToken ct)
    {
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var taken = await Pipeline.ProcessBatchAsync(batchSize, ct);
                failures = 0;
                if (taken == 0)
                {
                    await _wake.WaitAsync(poll, ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The database is unavailable or refused the batch: messages stay pending; try again shortly.
                failures++;
                _logger.LogError(e, "The HL7 pipeline could not process a batch (attempt {Attempt}); messages stay in the inbox", failures);
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, Math.Min(failures, 8)))), ct);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    private static MllpListenerOptions ListenerOptions(Hl7FeedOptions options, int port) => new()
    {
        Address = options.Address is "*" or "0.0.0.0" ? IPAddress.Any : IPAddress.TryParse(options.Address, out var ip) ? ip
            : throw new InvalidOperationException($"Tessera:Hl7:Address '{options.Address}' is not an IP address; use e.g. 127.0.0.1 or 0.0.0.0."),
        Port = port,
        MaxConnections = options.MaxConnections,
        MaxMessageBytes = options.MaxMessageBytes,
        Certificate = LoadCertificate(options),
        RequireClientCertificate = options.RequireClientCertificate,
    };

    private static X509Certificate2? LoadCertificate(Hl7FeedOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.CertificatePath))
        {
            return null;
        }

        if (!File.Exists(options.CertificatePath))
        {
            throw new InvalidOperationException($"The MLLP TLS certificate '{options.CertificatePath}' does not exist (Tessera:Hl7:CertificatePath).");
        }

        var certificate = Path.GetExtension(options.CertificatePath).ToLowerInvariant() is ".pem" or ".crt"
            ? X509Certificate2.CreateFromPemFile(options.CertificatePath, options.CertificateKeyPath)
            : X509CertificateLoader.LoadPkcs12FromFile(options.CertificatePath, options.CertificatePassword);
        return certificate.HasPrivateKey
            ? certificate
            : throw new InvalidOperationException($"The MLLP TLS certificate '{options.CertificatePath}' has no private key; give a .pfx with its key, or CertificateKeyPath for a PEM.");
    }
}
