using System.Net;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Tessera.Integration.Mllp;

/// <summary>Settings for <see cref="MllpListener"/>; bindable from configuration apart from the certificate.</summary>
public sealed class MllpListenerOptions
{
    /// <summary>Address to listen on; loopback unless the host says otherwise.</summary>
    public IPAddress Address { get; set; } = IPAddress.Loopback;

    /// <summary>TCP port; 0 picks a free one (see <see cref="MllpListener.LocalEndPoint"/>).</summary>
    public int Port { get; set; } = 2575;

    /// <summary>Largest message accepted; a larger one gets an AR and is not delivered.</summary>
    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>How long a connection may sit between messages before it is closed.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long the listener waits for the next bytes of a message already started, or for a write or TLS handshake.</summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Connections beyond this are closed as soon as they are accepted.</summary>
    public int MaxConnections { get; set; } = 256;

    /// <summary>When set, every connection is TLS with this certificate (it must have a private key).</summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>With TLS, require and validate a client certificate (mutual TLS).</summary>
    public bool RequireClientCertificate { get; set; }

    /// <summary>TLS versions to allow; None lets the operating system choose.</summary>
    public SslProtocols SslProtocols { get; set; } = SslProtocols.None;
}
