using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Tessera.Integration.Mllp;

/// <summary>Settings for <see cref="MllpClient"/>.</summary>
public sealed class MllpClientOptions
{
    /// <summary>Wrap the connection in TLS.</summary>
    public bool UseTls { get; set; }

    /// <summary>Name the server certificate must carry; defaults to the host connected to.</summary>
    public string? TargetHost { get; set; }

    /// <summary>Overrides certificate validation, e.g. to pin a private CA's certificate.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; set; }

    /// <summary>Client certificates for mutual TLS.</summary>
    public X509CertificateCollection? ClientCertificates { get; set; }

    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>How long to wait for the acknowledgment of a message.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
