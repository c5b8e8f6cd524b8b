namespace Tessera.Integration.Pipeline;

/// <summary>
/// The HL7 v2 feed: where the MLLP listener listens, which source systems may send, and how the pipeline
/// works through the inbox. Bound from the configuration section <c>Tessera:Hl7</c>.
/// </summary>
public sealed class Hl7FeedOptions
{
    public const string Section = "Tessera:Hl7";

    /// <summary>The MLLP port; null runs no listener (the pipeline may still work through the inbox).</summary>
    public int? Port { get; set; }

    /// <summary>The address to listen on: an IP address, "*" or "0.0.0.0" for every interface; loopback by default.</summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>A PKCS#12 (.pfx) or PEM certificate file with its private key; when set every connection is TLS.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The password of <see cref="CertificatePath"/>, if any (give it through the environment, never in a file in the repository).</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>For a PEM certificate whose key is in a separate file.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>With TLS, require a client certificate (mutual TLS) that the machine's trust store accepts.</summary>
    public bool RequireClientCertificate { get; set; }

    public int MaxConnections { get; set; } = 256;

    public int MaxMessageBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>The systems allowed to send: a message from an application and facility not listed here is rejected (AR).</summary>
    public List<Hl7SourceOptions> Sources { get; set; } = [];

    /// <summary>Whether this node maps stored messages to FHIR (several nodes may; each claims its own messages).</summary>
    public bool RunPipeline { get; set; } = true;

    /// <summary>
    /// Pipeline workers on this node, each mapping its own batches in its own transaction (null: 2 on PostgreSQL,
    /// 1 on SQLite, whose single writer would only queue them).
    /// </summary>
    public int? PipelineWorkers { get; set; }

    /// <summary>Messages mapped in one database transaction.</summary>
    public int PipelineBatchSize { get; set; } = 32;

    /// <summary>How often an idle pipeline looks for work another node stored (this node's own arrivals wake it at once).</summary>
    public TimeSpan PipelinePollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most messages committed to the inbox in one transaction (group commit).</summary>
    public int MaxCommitBatch { get; set; } = 256;
}

/// <summary>
/// One sending system, known by MSH-3 (sending application) and MSH-4 (sending facility): the organisation that runs
/// it and the identifier namespace its local numbers (patient, visit, order, appointment, document) live in.
/// </summary>
public sealed class Hl7SourceOptions
{
    /// <summary>MSH-3.1, e.g. "PAS".</summary>
    public string Application { get; set; } = string.Empty;

    /// <summary>MSH-4.1, e.g. "RXH"; empty matches any facility of the application.</summary>
    public string Facility { get; set; } = string.Empty;

    /// <summary>A name for people, e.g. "Royal Example Hospital PAS".</summary>
    public string? Name { get; set; }

    /// <summary>The organisation's ODS code; used for managingOrganization, serviceProvider, custodian and the Provenance.</summary>
    public string? OdsCode { get; set; }

    /// <summary>The organisation's display name.</summary>
    public string? OrganizationName { get; set; }

    /// <summary>Optionally a literal reference to the organisation in this store, e.g. "Organization/rxh".</summary>
    public string? Organization { get; set; }

    /// <summary>
    /// The base of the source's identifier systems, e.g. "https://fhir.rxh.example.nhs.uk/Id": patients are
    /// "{base}/local-patient-identifier", visits "{base}/encounter", reports "{base}/report" and so on.
    /// </summary>
    public string IdentifierSystem { get; set; } = string.Empty;

    /// <summary>Overrides the patient identifier system (default "{IdentifierSystem}/local-patient-identifier").</summary>
    public string? PatientIdentifierSystem { get; set; }

    /// <summary>
    /// The PID-3 assigning authority (CX-4) of the source's own patient numbers; when empty, the first PID-3
    /// repetition that is not an NHS number is the local number.
    /// </summary>
    public string? AssigningAuthority { get; set; }

    /// <summary>The time zone of timestamps that carry no offset (IANA id).</summary>
    public string TimeZone { get; set; } = "Europe/London";
}
