using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.Governance.Audit;
using Tessera.Governance.BreakGlass;
using Tessera.Governance.Policy;
using Tessera.Governance.Relationships;
using Tessera.Governance.Storage;
using Tessera.Governance.SubjectAccess;
using Tessera.RecordStore;

namespace Tessera.Governance;

/// <summary>Governance settings (section "Governance" of the host's configuration).</summary>
public sealed class GovernanceOptions
{
    /// <summary>How long a break-glass grant lasts when the clinician does not say.</summary>
    public int BreakGlassMinutes { get; set; } = 60;

    /// <summary>The longest break-glass grant a clinician may ask for.</summary>
    public int BreakGlassMaxMinutes { get; set; } = 240;

    /// <summary>Who else receives break-glass notifications besides the person's GP: the IG lead, e.g. "Practitioner/ig-lead" or "Organization/ig-office".</summary>
    public string? IgLeadRecipient { get; set; }

    /// <summary>
    /// Whether a read answers only once its audit event has committed. Off by default: reads' events are
    /// group-committed within <see cref="AuditChainMilliseconds"/> of the read, and a crash can lose the last few.
    /// </summary>
    public bool AwaitReadAudit { get; set; }

    /// <summary>How often the audit writer commits queued read events and chains what writes appended (milliseconds).</summary>
    public int AuditChainMilliseconds { get; set; } = 200;

    /// <summary>
    /// How long the audit writer gathers further read events after one arrives before committing them together
    /// (milliseconds; 0 commits at once). Nothing waits on it: reads answer as soon as their event is queued, and a
    /// flush or <see cref="AwaitReadAudit"/> commits at once.
    /// </summary>
    public int AuditLingerMilliseconds { get; set; } = 50;

    /// <summary>How many read events may wait to be committed before reads wait for the trail.</summary>
    public int AuditQueueLimit { get; set; } = 10_000;

    /// <summary>
    /// Whether, on PostgreSQL, the answers of a caller's tests of a patient (care relationship, consent rules,
    /// break-glass) are kept between that caller's searches of the patient, for as long as the database signals no
    /// change to the patient's relationships, consents or links and none of them expires (docs/governance.md,
    /// "Kept answers"). On by default; off, every search of a patient tests the patient in the database.
    /// </summary>
    public bool KeepTestAnswers { get; set; } = true;

    /// <summary>The clock (tests move it to expire grants).</summary>
    public TimeProvider Clock { get; set; } = TimeProvider.System;
}

/// <summary>
/// Governance on a store: the access policy every caller's interaction goes through, the index of care
/// relationships and consents it decides by, the hash-chained audit trail, break-glass and subject access.
/// </summary>
public sealed class StoreGovernance : IAsyncDisposable
{
    private readonly FhirStore _store;
    private readonly RecordExporter _exporter;

    private readonly ChangeListener? _listener;

    private StoreGovernance(FhirStore store, AuditTrail audit, GovernanceChanges changes, PatientAnswers? answers, ChangeListener? listener)
    {
        _store = store;
        Audit = audit;
        Changes = changes;
        Answers = answers;
        _listener = listener;
        _exporter = new RecordExporter(store, audit);
    }

    /// <summary>What this process has heard of changes to the governance index (for tests).</summary>
    internal GovernanceChanges Changes { get; }

    /// <summary>The test answers kept between searches, when they are (for tests).</summary>
    internal PatientAnswers? Answers { get; }

    /// <summary>The audit trail (e.g. for the authorization server to record sign-ins).</summary>
    public AuditTrail Audit { get; }

    internal static async Task<StoreGovernance> AttachAsync(FhirStore store, GovernanceOptions options, ILoggerFactory? loggers, CancellationToken ct)
    {
        await store.MigratePartAsync("governance", GovernanceSchema.Steps, ct);
        var logs = loggers ?? NullLoggerFactory.Instance;
        var changes = new GovernanceChanges();
        var index = new RelationshipIndex(changes);
        await using (var connection = await store.OpenConnectionAsync(ct))
        await using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = "SELECT value FROM gov_state WHERE name = 'index'";
            if (await cmd.ExecuteScalarAsync(ct) is null)
            {
                // First start on a store that may already hold records: build the index from them.
                await index.RebuildAsync(store, ct);
                await store.WriteAsync(tx => tx.ExecuteAsync("INSERT INTO gov_state (name, value) VALUES ('index', 'built')", ct), ct);
            }
        }

        var audit = new AuditTrail(store, options, logs.CreateLogger<AuditTrail>());
        var governance = options.KeepTestAnswers
            ? new StoreGovernance(store, audit, changes, new PatientAnswers(changes), ChangeListener.Start(store, changes, logs.CreateLogger<ChangeListener>()))
            : new StoreGovernance(store, audit, changes, null, null);
        store.AddWriteObserver(index);
        store.UseAccessPolicy(new GovernancePolicy(audit, new AuditQuery(store, audit), governance.Answers));
        store.Operations.Register(new BreakGlassOperation(audit, options, changes));
        store.Operations.Register(new ExportRecordOperation(governance._exporter, audit));
        return governance;
    }

    /// <summary>Checks the audit trail's hash chain; any changed or deleted row is reported with its position.</summary>
    public async Task<AuditVerification> VerifyAuditAsync(CancellationToken ct = default)
    {
        await Audit.FlushAsync();
        return await AuditVerifier.VerifyAsync(_store, Audit.Now, ct);
    }

    /// <summary>Everything held about a person, with the audit of access to their record (subject access).</summary>
    public async Task<Hl7.Fhir.Model.Bundle> ExportRecordAsync(string patientId, CancellationToken ct = default)
    {
        var bundle = await _exporter.ExportAsync(patientId, null, ct);
        var entry = AuditEvents.ForGovernanceEvent("subject-access-export", "Subject access export", null, null, null, patientId, "HOPERAT", $"{bundle.Entry.Count} resources exported by an operator (tessera audit export)", Audit.Now);
        await Audit.RecordAsync(entry, ct);
        return bundle;
    }

    /// <summary>
    /// Records a sign-in, a token issued, refused or revoked, or an access token refused, in the audit trail
    /// (the authorization server calls this; docs/governance.md says what each event holds).
    /// </summary>
    public Task RecordAuthenticationAsync(AuthenticationEvent authentication, CancellationToken ct = default)
    {
        var entry = AuditEvents.ForAuthentication(authentication, Audit.Now);
        return Audit.RecordAsync(entry, ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_listener is not null)
        {
            await _listener.DisposeAsync();
        }

        await Audit.DisposeAsync();
    }
}

public static class GovernanceExtensions
{
    /// <summary>
    /// Puts the store under governance: from now on every interaction that carries a caller is decided by the
    /// access policy and audited. Call once, where the store is opened.
    /// </summary>
    public static Task<StoreGovernance> AddGovernanceAsync(this FhirStore store, GovernanceOptions? options = null, ILoggerFactory? loggers = null, CancellationToken ct = default) =>
        StoreGovernance.AttachAsync(store, options ?? new GovernanceOptions(), loggers, ct);
}
