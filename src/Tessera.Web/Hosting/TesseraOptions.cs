namespace Tessera.Web.Hosting;

/// <summary>Settings bound from the "Tessera" configuration section and TESSERA_* environment variables.</summary>
public sealed class TesseraOptions
{
    public const string Section = "Tessera";

    /// <summary>sqlite:&lt;path&gt;, a PostgreSQL URL or a connection string; TESSERA_DB overrides it.</summary>
    public string? Database { get; set; }

    /// <summary>The largest request body accepted, in bytes; larger bodies get 413 with an OperationOutcome.</summary>
    public long MaxBodyBytes { get; set; } = 32 * 1024 * 1024;

    /// <summary>The public FHIR base URL when Tessera sits behind a proxy; otherwise taken from each request.</summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>
    /// Serves the store without the access policy and the audit trail: only the governance benchmark sets it, to
    /// measure what governance costs over HTTP. It is internal, so no configuration source can bind it.
    /// </summary>
    internal bool Ungoverned { get; set; }
}
