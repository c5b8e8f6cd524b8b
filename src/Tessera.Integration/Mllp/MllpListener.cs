using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mllp;

/// <summary>
/// Receives HL7 v2 messages over MLLP (optionally TLS). Each complete message goes to the handler;
/// the handler's acknowledgment is written back before the next message on that connection is
/// handled, so a sender sees its ACKs in order. Nothing is acknowledged that the handler did not
/// acknowledge: a message cut off by a disconnect, a timeout or a shutdown is dropped unanswered,
/// and the sender resends it.
/// </summary>
public sealed class MllpListener : IAsyncDisposable
{
    private const int ReadBufferBytes = 64 * 1024;

    private readonly MllpListenerOptions _options;
    private readonly Func<MllpMessage, CancellationToken, ValueTask<byte[]>> _handler;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private TcpListener? _listener;
    private Task? _acceptLoop;
    private long _lastConnectionId;
    private int _activeConnections;

    public MllpListener(MllpListenerOptions options, Func<MllpMessage, CancellationToken, ValueTask<byte[]>> handler, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxMessageBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConnections, 1);
        _options = options;
        _handler = handler;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The bound address and port (useful with port 0).</summary>
    public IPEndPoint LocalEndPoint =>
        (IPEndPoint)(_listener ?? throw new InvalidOperationException("The listener has not been started.")).LocalEndpoint;

    public int ActiveConnections => Volatile.Read(ref _activeConnections);

    /// <summary>Binds the port and starts accepting connections in the background.</summary>
    public void Start()
    {
        if (_listener is not null)
        {
            throw new InvalidOperationException("The listener is already started.");
        }

        _listener = new TcpListener(_options.Address, _options.Port);
        _listener.Start();
        _logger.LogInformation("MLLP listener on {EndPoint} (TLS {Tls})", _listener.LocalEndpoint, _options.Certificate is not null);
        _acceptLoop = Task.Run(() => AcceptLoopAsync(_stopping.Token));
    }

    /// <summary>Stops accepting, cancels the connections and waits for them to close.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_listener is null || _stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        var pending = new List<Task>(_connections.Values);
        if (_acceptLoop is not null)
        {
            pending.Add(_acceptLoop);
        }

        await Task.WhenAll(pending).WaitAsync(cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("MLLP listener stopped");
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener!.AcceptSocketAsync(stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException ex) when (stopping.IsCancellationRequested)
            {
                _logger.LogDebug(ex, "Accept ended by shutdown");
                break;
            }
            catch (SocketException ex)
            {
                // E.g. out of file descriptors: keep serving the connections we have.
                _logger.LogWarning(ex, "Accepting an MLLP connection failed");
                continue;
            }

            if (Interlocked.Increment(ref _activeConnections) > _options.MaxConnections)
            {
                Interlocked.Decrement(ref _activeConnections);
                _logger.LogWarning("Refused MLLP connection from {Remote}: {Max} connections already open", socket.RemoteEndPoint, _options.MaxConnections);
                socket.Dispose();
                continue;
            }

            var id = Interlocked.Increment(ref _lastConnectionId);

            // Registered before it starts, so its own removal on completion cannot come first.
            var connection = new Task<Task>(() => ServeConnectionAsync(socket, id, stopping));
            _connections[id] = connection.Unwrap();
            connection.Start(TaskScheduler.Default);
        }
    }

    private async Task ServeConnectionAsync(Socket socket, long id, CancellationToken stopping)
    {
        var remote = socket.RemoteEndPoint;
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferBytes);
        var decoder = new MllpFrameDecoder(_options.MaxMessageBytes);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        _logger.LogDebug("MLLP connection {Connection} from {Remote}", id, remote);
        try
        {
            socket.NoDelay = true;
            await using var network = new NetworkStream(socket, ownsSocket: true);
            Stream stream = network;
            SslStream? tls = null;
            if (_options.Certificate is { } certificate)
            {
                tls = new SslStream(network, leaveInnerStreamOpen: false);
                timeout.CancelAfter(_options.ReadTimeout);
                await tls.AuthenticateAsServerAsync(
                    new SslServerAuthenticationOptions
                    {
                        ServerCertificate = certificate,
                        ClientCertificateRequired = _options.RequireClientCertificate,
                        EnabledSslProtocols = _options.SslProtocols,
                    },
                    timeout.Token).ConfigureAwait(false);
                stream = tls;
            }

            await using (tls)
            {
                await ReceiveAsync(stream, id, remote, decoder, buffer, timeout, stopping).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            LogDropped(id, decoder, "the listener is stopping");
        }
        catch (OperationCanceledException)
        {
            if (decoder.HasPartialFrame)
            {
                _logger.LogWarning("MLLP connection {Connection} from {Remote} closed: no data for {Timeout} in the middle of a message; partial message discarded", id, remote, _options.ReadTimeout);
            }
            else
            {
                _logger.LogInformation("MLLP connection {Connection} from {Remote} closed after {Timeout} idle", id, remote, _options.IdleTimeout);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or AuthenticationException or ObjectDisposedException)
        {
            _logger.LogInformation(ex, "MLLP connection {Connection} from {Remote} failed", id, remote);
            LogDropped(id, decoder, "the connection failed");
        }
        catch (Exception ex)
        {
            // One broken connection must not take the listener (or its shutdown) down with it.
            _logger.LogError(ex, "MLLP connection {Connection} from {Remote} ended unexpectedly", id, remote);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Interlocked.Decrement(ref _activeConnections);
            _connections.TryRemove(id, out _);
            _logger.LogDebug("MLLP connection {Connection} closed", id);
        }
    }

    private async Task ReceiveAsync(Stream stream, long id, EndPoint? remote, MllpFrameDecoder decoder, byte[] buffer, CancellationTokenSource timeout, CancellationToken stopping)
    {
        var frames = new List<MllpFrame>();
        while (true)
        {
            timeout.CancelAfter(decoder.HasPartialFrame ? _options.ReadTimeout : _options.IdleTimeout);
            var read = await stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
            if (read == 0)
            {
                LogDropped(id, decoder, "the sender disconnected");
                return;
            }

            frames.Clear();
            decoder.Decode(buffer.AsSpan(0, read), frames);
            foreach (var frame in frames)
            {
                // The handler may take as long as it needs; only the socket is on a clock.
                timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                var ack = frame.IsOversized
                    ? RejectOversized(id, remote, frame)
                    : await HandleAsync(new MllpMessage(frame.Payload, remote, id, DateTimeOffset.UtcNow), stopping).ConfigureAwait(false);
                timeout.CancelAfter(_options.ReadTimeout);
                await stream.WriteAsync(MllpFraming.Frame(ack), timeout.Token).ConfigureAwait(false);
                await stream.FlushAsync(timeout.Token).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<byte[]> HandleAsync(MllpMessage message, CancellationToken stopping)
    {
        try
        {
            var ack = await _handler(message, stopping).ConfigureAwait(false);
            return ack ?? throw new InvalidOperationException("The MLLP handler returned no acknowledgment.");
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            // The sender must learn the message was not taken, so it can resend later: AR, 207.
            _logger.LogError(ex, "MLLP handler failed for a message on connection {Connection}", message.ConnectionId);
            return Hl7AckBuilder.Reject(message.Payload, Hl7ErrorCode.ApplicationInternalError, "The receiver could not process the message; send it again later.").ToBytes();
        }
    }

    private byte[] RejectOversized(long id, EndPoint? remote, MllpFrame frame)
    {
        _logger.LogWarning("MLLP message of {Length} bytes on connection {Connection} from {Remote} exceeds the {Max} byte limit; rejected", frame.Length, id, remote, _options.MaxMessageBytes);
        var text = $"The message is {frame.Length} bytes; this receiver accepts at most {_options.MaxMessageBytes}.";
        return Hl7AckBuilder.Reject(frame.Payload, Hl7ErrorCode.ApplicationInternalError, text).ToBytes();
    }

    private void LogDropped(long id, MllpFrameDecoder decoder, string why)
    {
        if (decoder.HasPartialFrame)
        {
            _logger.LogWarning("MLLP connection {Connection}: partial message discarded because {Reason}", id, why);
        }
    }
}
