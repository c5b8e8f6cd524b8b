using System.Net.Security;
using System.Net.Sockets;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mllp;

/// <summary>
/// Sends messages over one MLLP connection and waits for each acknowledgment before the next send
/// (the original-mode protocol: one outstanding message at a time).
/// </summary>
public sealed class MllpClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly MllpClientOptions _options;
    private readonly MllpFrameDecoder _decoder;
    private readonly Queue<MllpFrame> _received = new();
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private readonly byte[] _buffer = new byte[16 * 1024];

    private MllpClient(TcpClient tcp, Stream stream, MllpClientOptions options)
    {
        _tcp = tcp;
        _stream = stream;
        _options = options;
        _decoder = new MllpFrameDecoder(options.MaxMessageBytes);
    }

    public static async Task<MllpClient> ConnectAsync(string host, int port, MllpClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        options ??= new MllpClientOptions();
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ConnectTimeout);
            await tcp.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            Stream stream = tcp.GetStream();
            if (options.UseTls)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                await tls.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = options.TargetHost ?? host,
                        RemoteCertificateValidationCallback = options.ServerCertificateValidation,
                        ClientCertificates = options.ClientCertificates,
                    },
                    timeout.Token).ConfigureAwait(false);
                stream = tls;
            }

            return new MllpClient(tcp, stream, options);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Sends one message and returns the acknowledgment's bytes.</summary>
    /// <exception cref="TimeoutException">No acknowledgment within <see cref="MllpClientOptions.AckTimeout"/>.</exception>
    /// <exception cref="IOException">The connection closed before the acknowledgment arrived.</exception>
    public async Task<byte[]> SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        await _oneAtATime.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_options.AckTimeout);
            try
            {
                await _stream.WriteAsync(MllpFraming.Frame(message.Span), timeout.Token).ConfigureAwait(false);
                await _stream.FlushAsync(timeout.Token).ConfigureAwait(false);
                return await ReadFrameAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"No MLLP acknowledgment within {_options.AckTimeout}.");
            }
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    /// <summary>Sends a message and parses the acknowledgment (leniently: a reply is read, not judged).</summary>
    public async Task<Hl7Message> SendAsync(Hl7Message message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var ack = await SendAsync(message.ToBytes(), cancellationToken).ConfigureAwait(false);
        return Hl7Message.Parse(ack, Hl7ParseOptions.Lenient);
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _tcp.Dispose();
        _oneAtATime.Dispose();
    }

    private async Task<byte[]> ReadFrameAsync(CancellationToken cancellationToken)
    {
        while (_received.Count == 0)
        {
            var read = await _stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                throw new IOException("The MLLP connection closed before the acknowledgment arrived.");
            }

            _decoder.Decode(_buffer.AsSpan(0, read), new QueueAdapter(_received));
        }

        var frame = _received.Dequeue();
        return frame.IsOversized
            ? throw new IOException($"The acknowledgment is {frame.Length} bytes, more than the {_options.MaxMessageBytes} allowed.")
            : frame.Payload;
    }

    private sealed class QueueAdapter(Queue<MllpFrame> queue) : ICollection<MllpFrame>
    {
        public int Count => queue.Count;

        public bool IsReadOnly => false;

        public void Add(MllpFrame item) => queue.Enqueue(item);

        public void Clear() => queue.Clear();

        public bool Contains(MllpFrame item) => queue.Contains(item);

        public void CopyTo(MllpFrame[] array, int arrayIndex) => queue.CopyTo(array, arrayIndex);

        public bool Remove(MllpFrame item) => throw new NotSupportedException();

        public IEnumerator<MllpFrame> GetEnumerator() => queue.GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
