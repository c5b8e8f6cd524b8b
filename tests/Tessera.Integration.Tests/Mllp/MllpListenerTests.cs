using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Tessera.Integration.Hl7;
using Tessera.Integration.Mllp;

namespace Tessera.Integration.Tests.Mllp;

/// <summary>Real sockets on the loopback interface; no assertion depends on how long anything takes.</summary>
public sealed class MllpListenerTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<MllpMessage> _received = new();
    private MllpListener? _listener;

    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_listener is not null)
        {
            await _listener.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_message_is_handed_to_the_handler_and_its_ack_returned()
    {
        var listener = Start();
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port);

        var ack = await client.SendAsync(Hl7Message.Parse(Message("C1")));

        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal("C1", ack.Get("MSA-2"));
        var received = Assert.Single(_received);
        Assert.Equal(Encoding.UTF8.GetBytes(Message("C1")), received.Payload);
        Assert.Equal(IPAddress.Loopback, ((IPEndPoint)received.RemoteEndPoint!).Address);
        Assert.True(received.ConnectionId > 0);
    }

    [Fact]
    public async Task A_frame_written_byte_by_byte_is_reassembled()
    {
        var listener = Start();
        using var tcp = await Connect(listener);
        var stream = tcp.GetStream();

        foreach (var b in Framed(Message("SPLIT")))
        {
            await stream.WriteAsync(new[] { b });
            await stream.FlushAsync();
        }

        var acks = await ReadFrames(stream, 1);
        Assert.Equal("SPLIT", Hl7Message.Parse(acks[0]).Get("MSA-2"));
    }

    [Fact]
    public async Task Several_messages_in_one_write_are_acknowledged_in_order()
    {
        // Each message's handler finishes before the next starts, so a slow first message still comes back first.
        var listener = Start(async (m, ct) =>
        {
            if (m.Parse().ControlId == "M1")
            {
                await Task.Delay(50, ct);
            }

            return Ack(m);
        });
        using var tcp = await Connect(listener);
        var stream = tcp.GetStream();
        var junk = "\r\n"u8.ToArray();

        await stream.WriteAsync(Framed(Message("M1")).Concat(junk).Concat(Framed(Message("M2"))).Concat(Framed(Message("M3"))).ToArray());

        var acks = await ReadFrames(stream, 3);
        Assert.Equal(["M1", "M2", "M3"], acks.Select(a => Hl7Message.Parse(a).Get("MSA-2")));
        Assert.Equal(["M1", "M2", "M3"], _received.Select(m => m.Parse().ControlId));
    }

    [Fact]
    public async Task A_slow_client_within_the_timeouts_is_served()
    {
        var listener = Start(options: o => o.ReadTimeout = TimeSpan.FromSeconds(10));
        using var tcp = await Connect(listener);
        var stream = tcp.GetStream();
        var bytes = Framed(Message("SLOW"));

        for (var i = 0; i < bytes.Length; i += 16)
        {
            await stream.WriteAsync(bytes.AsMemory(i, Math.Min(16, bytes.Length - i)));
            await Task.Delay(5);
        }

        var acks = await ReadFrames(stream, 1);
        Assert.Equal("SLOW", Hl7Message.Parse(acks[0]).Get("MSA-2"));
    }

    [Fact]
    public async Task A_client_that_stalls_mid_message_is_disconnected_and_nothing_is_delivered()
    {
        var listener = Start(options: o => o.ReadTimeout = TimeSpan.FromMilliseconds(200));
        using var tcp = await Connect(listener);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Framed(Message("STALL"))[..20]);

        // The server gives up on the connection: the read ends with end-of-stream or a reset.
        await ReadUntilClosed(stream);

        Assert.Empty(_received);
        await WaitUntil(() => listener.ActiveConnections == 0);
    }

    [Fact]
    public async Task An_idle_connection_is_closed()
    {
        var listener = Start(options: o => o.IdleTimeout = TimeSpan.FromMilliseconds(200));
        using var tcp = await Connect(listener);

        await ReadUntilClosed(tcp.GetStream());

        await WaitUntil(() => listener.ActiveConnections == 0);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_message_delivers_nothing_and_the_server_carries_on()
    {
        var listener = Start();
        using (var tcp = await Connect(listener))
        {
            await tcp.GetStream().WriteAsync(Framed(Message("CUT"))[..30]);
            await WaitUntil(() => listener.ActiveConnections == 1);
        }

        await WaitUntil(() => listener.ActiveConnections == 0);
        Assert.Empty(_received);

        await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port);
        var ack = await client.SendAsync(Hl7Message.Parse(Message("AFTER")));
        Assert.Equal("AFTER", ack.Get("MSA-2"));
        Assert.Equal("AFTER", Assert.Single(_received).Parse().ControlId);
    }

    [Fact]
    public async Task Many_concurrent_connections_each_get_their_own_acks()
    {
        var listener = Start();
        const int clients = 40;
        const int perClient = 5;

        var results = await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port);
            var ids = new List<string>();
            for (var i = 0; i < perClient; i++)
            {
                var ack = await client.SendAsync(Hl7Message.Parse(Message($"C{c}N{i}")));
                ids.Add(ack.Get("MSA-2")!);
            }

            return (c, ids);
        }));

        foreach (var (c, ids) in results)
        {
            Assert.Equal(Enumerable.Range(0, perClient).Select(i => $"C{c}N{i}"), ids);
        }

        Assert.Equal(clients * perClient, _received.Count);
        Assert.Equal(clients, _received.Select(m => m.ConnectionId).Distinct().Count());
    }

    [Fact]
    public async Task An_oversized_message_is_rejected_with_ar_and_the_connection_stays_usable()
    {
        var listener = Start(options: o => o.MaxMessageBytes = 1024);
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port);
        var big = Message("BIG") + "NTE|1||" + new string('x', 5000) + "\r";

        var nak = Hl7Message.Parse(await client.SendAsync(Encoding.ASCII.GetBytes(big)));

        Assert.Equal("AR", nak.Get("MSA-1"));
        Assert.Equal("BIG", nak.Get("MSA-2"));
        Assert.Contains("at most 1024", nak.Get("MSA-3"), StringComparison.Ordinal);
        Assert.Empty(_received);
        var ack = await client.SendAsync(Hl7Message.Parse(Message("SMALL")));
        Assert.Equal("AA", ack.Get("MSA-1"));
    }

    [Fact]
    public async Task A_failing_handler_gives_an_ar_with_code_207()
    {
        var listener = Start((_, _) => throw new InvalidOperationException("store unavailable"));
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port);

        var nak = await client.SendAsync(Hl7Message.Parse(Message("FAIL")));

        Assert.Equal("AR", nak.Get("MSA-1"));
        Assert.Equal("FAIL", nak.Get("MSA-2"));
        Assert.Equal("207", nak.Get("ERR-3"));
        Assert.DoesNotContain("store unavailable", nak.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tls_with_a_self_signed_certificate()
    {
        using var certificate = SelfSignedCertificate();
        var listener = Start(options: o => o.Certificate = certificate);
        var options = new MllpClientOptions
        {
            UseTls = true,
            TargetHost = "localhost",
            ServerCertificateValidation = (_, presented, _, _) => presented is not null && presented.GetCertHashString() == certificate.GetCertHashString(),
        };
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, options);

        var ack = await client.SendAsync(Hl7Message.Parse(Message("TLS1")));

        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal("TLS1", ack.Get("MSA-2"));
    }

    [Fact]
    public async Task A_plain_client_cannot_talk_to_a_tls_listener()
    {
        using var certificate = SelfSignedCertificate();
        var listener = Start(options: o => o.Certificate = certificate);
        using var tcp = await Connect(listener);
        var stream = tcp.GetStream();

        await stream.WriteAsync(Framed(Message("PLAIN")));
        await ReadUntilClosed(stream);

        Assert.Empty(_received);
    }

    [Fact]
    public async Task Connections_over_the_limit_are_closed_at_once()
    {
        var listener = Start(options: o => o.MaxConnections = 1);
        await using var first = await MllpClient.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port);
        await WaitUntil(() => listener.ActiveConnections == 1);

        using var second = await Connect(listener);
        await ReadUntilClosed(second.GetStream());

        Assert.Equal("OK1", (await first.SendAsync(Hl7Message.Parse(Message("OK1")))).Get("MSA-2"));
    }

    [Fact]
    public async Task The_client_gives_up_when_no_ack_comes()
    {
        var listener = Start(async (m, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct);
            return Ack(m);
        });
        await using var client = await MllpClient.ConnectAsync(
            "127.0.0.1",
            listener.LocalEndPoint.Port,
            new MllpClientOptions { AckTimeout = TimeSpan.FromMilliseconds(200) });

        await Assert.ThrowsAsync<TimeoutException>(() => client.SendAsync(Hl7Message.Parse(Message("WAIT"))));
    }

    [Fact]
    public async Task Stopping_closes_open_connections()
    {
        var listener = Start();
        using var tcp = await Connect(listener);
        await WaitUntil(() => listener.ActiveConnections == 1);

        await listener.StopAsync();

        Assert.Equal(0, listener.ActiveConnections);
        await ReadUntilClosed(tcp.GetStream());
    }

    private MllpListener Start(Func<MllpMessage, CancellationToken, ValueTask<byte[]>>? handler = null, Action<MllpListenerOptions>? options = null)
    {
        var o = new MllpListenerOptions { Port = 0, IdleTimeout = TimeSpan.FromSeconds(30), ReadTimeout = TimeSpan.FromSeconds(30) };
        options?.Invoke(o);
        handler ??= (m, _) => ValueTask.FromResult(Ack(m));
        _listener = new MllpListener(o, async (m, ct) =>
        {
            _received.Enqueue(m);
            return await handler(m, ct);
        });
        _listener.Start();
        return _listener;
    }

    private static byte[] Ack(MllpMessage m) => Hl7AckBuilder.Build(m.Parse(), Hl7AckCode.AA).ToBytes();

    private static string Message(string controlId) =>
        $"MSH|^~\\&|PAS|RGH|TESSERA|REGION|20250101120000||ADT^A01^ADT_A01|{controlId}|P|2.5.1\rEVN|A01|20250101120000\rPID|1||9990001234^^^NHS^NH||DOE^JANE\r";

    private static byte[] Framed(string message) => MllpFraming.Frame(Encoding.UTF8.GetBytes(message));

    private static async Task<TcpClient> Connect(MllpListener listener)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, listener.LocalEndPoint.Port);
        return tcp;
    }

    private static async Task<List<byte[]>> ReadFrames(NetworkStream stream, int count)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var decoder = new MllpFrameDecoder(1 << 20);
        var frames = new List<MllpFrame>();
        var buffer = new byte[4096];
        while (frames.Count < count)
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(read > 0, "the server closed the connection before sending every ACK");
            decoder.Decode(buffer.AsSpan(0, read), frames);
        }

        return frames.Select(f => f.Payload).ToList();
    }

    private static async Task ReadUntilClosed(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(Patience);
        var buffer = new byte[1024];
        try
        {
            while (await stream.ReadAsync(buffer, timeout.Token) > 0)
            {
            }
        }
        catch (IOException)
        {
            // A reset is as good as a close.
        }
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (!condition())
        {
            await Task.Delay(10, timeout.Token);
        }
    }

    internal static X509Certificate2 SelfSignedCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));

        // A round trip through PKCS#12 gives a certificate whose private key SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }
}
