using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.Governance.Audit;
using Tessera.Governance.Policy;
using Tessera.Governance.Relationships;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;

namespace Tessera.Governance.BreakGlass;

/// <summary>
/// <c>POST Patient/[id]/$break-glass</c> (reason, minutes): emergency access for a clinician without a care
/// relationship. It grants the caller the person's whole record for a limited time (consent restrictions
/// included), audits it with purpose of use BTG, and notifies the person's GP and the information governance
/// lead with a Communication tagged <c>urn:tessera:governance|break-glass</c> — all in one transaction.
/// </summary>
internal sealed class BreakGlassOperation(AuditTrail audit, GovernanceOptions options, Policy.GovernanceChanges? changes = null) : FhirOperation
{
    public const string OperationName = "break-glass";

    public const int MinimumReasonLength = 10;

    public override string Name => OperationName;

    public override OperationLevel Levels => OperationLevel.Instance;

    public override IReadOnlyCollection<string> ResourceTypes => ["Patient"];

    public override string? Documentation =>
        $"Emergency access to a person's record: give 'reason' (at least {MinimumReasonLength} characters) and optionally 'minutes' (default {options.BreakGlassMinutes}, at most {options.BreakGlassMaxMinutes}). Notifies the GP and the IG lead.";

    /// <summary>The role code (system <c>urn:tessera:role</c>) that marks an information governance lead's PractitionerRole.</summary>
    public const string IgLeadRole = "urn:tessera:role|ig-lead";

    /// <summary>The PractitionerRoles holding the IG lead role (<see cref="IgLeadRole"/>) at an organisation.</summary>
    private static async Task<List<string>> IgLeadsOfAsync(Tessera.RecordStore.FhirStore store, string? organization, CancellationToken ct)
    {
        if (organization is null)
        {
            return [];
        }

        var search = await store.ExecuteUnrestrictedAsync(FhirRequest.FromUrl("GET", $"PractitionerRole?role={Uri.EscapeDataString(IgLeadRole)}&organization={Uri.EscapeDataString(organization)}&_count=20"), ct);
        return search.Resource is Bundle bundle
            ? [.. bundle.Entry.Where(e => e.Search?.Mode == Bundle.SearchEntryMode.Match).Select(e => e.Resource).OfType<PractitionerRole>().Where(r => r.Active != false).Select(r => $"PractitionerRole/{r.Id}")]
            : [];
    }

    public override async Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct)
    {
        var store = invocation.Store;
        var patient = invocation.Id!;
        if (invocation.Request.Principal is not { } principal || Caller.From(principal) is not { } caller)
        {
            throw FhirException.BadRequest("$break-glass is for a signed-in clinician; internal callers already see every record.");
        }

        var reason = invocation.Value("reason")?.Trim();
        if (reason is null || reason.Length < MinimumReasonLength)
        {
            throw FhirException.BadRequest($"State why you need this record now: 'reason' must be at least {MinimumReasonLength} characters.", "reason", OperationOutcome.IssueType.Required);
        }

        var minutes = options.BreakGlassMinutes;
        if (invocation.Value("minutes") is { } m && (!int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out minutes) || minutes < 1 || minutes > options.BreakGlassMaxMinutes))
        {
            throw FhirException.BadRequest($"'minutes' must be a whole number from 1 to {options.BreakGlassMaxMinutes}, not '{m}'.", "minutes");
        }

        var read = await store.ExecuteUnrestrictedAsync(FhirRequest.FromUrl("GET", $"Patient/{patient}"), ct);
        if (read.Status != 200)
        {
            throw FhirException.NotFound($"Patient/{patient} is not known; break-glass needs an existing record.");
        }

        var record = (Patient)FhirStore.Materialise(read);
        var now = audit.Now;
        var expires = now.AddMinutes(minutes);
        var grant = Guid.CreateVersion7().ToString();
        var recipients = record.GeneralPractitioner.Select(r => new ResourceReference(r.Reference)).ToList();
        if (options.IgLeadRecipient is { } ig)
        {
            recipients.Add(new ResourceReference(ig));
        }

        // The IG leads of the clinician's own organisation answer for their staff's break-glass.
        recipients.AddRange((await IgLeadsOfAsync(store, caller.Organization, ct)).Where(r => recipients.All(x => x.Reference != r)).Select(r => new ResourceReference(r)));

        var who = $"{caller.FhirUser ?? caller.Subject} ({caller.Role}{(caller.Organization is null ? string.Empty : ", " + caller.Organization)})";
        var notice = new Communication
        {
            Meta = new Meta { Tag = [new Coding(AuditEvents.GovernanceSystem, "break-glass", "Break-glass access")] },
            Status = EventStatus.Completed,
            Category = [new CodeableConcept(AuditEvents.GovernanceSystem, "break-glass", "Break-glass access")],
            Priority = RequestPriority.Urgent,
            Subject = new ResourceReference($"Patient/{patient}"),
            Sender = caller.FhirUser is null ? null : new ResourceReference(caller.FhirUser),
            Recipient = recipients,
            Sent = now.ToString("o", CultureInfo.InvariantCulture),
            Payload = [new Communication.PayloadComponent { Content = new FhirString($"Break-glass access to Patient/{patient} by {who} until {expires:yyyy-MM-dd HH:mm} UTC. Reason: {reason}") }],
        };
        var entry = AuditEvents.ForGovernanceEvent("break-glass", "Break-glass access", caller, principal, invocation.Request.ClientAddress, patient, "BTG", $"Reason: {reason}; until {expires:o}", now);
        var communicationId = await store.WriteAsync(async tx =>
        {
            changes?.WrittenBy(tx);
            await tx.ExecuteAsync(
                "INSERT INTO gov_relationship (patient_key, party, basis, source_type, source_id, expires) VALUES (@p, @party, 'break-glass', 'BreakGlass', @id, @exp)",
                ct, ("@p", patient), ("@party", "user:" + caller.Subject), ("@id", grant), ("@exp", expires.ToUnixTimeMilliseconds()));
            await RelationshipIndex.CopySourceAsync(tx, "BreakGlass", grant, ct);
            var written = await store.ExecuteAsync(new FhirRequest { Method = "POST", Path = "Communication", Resource = notice, BaseUrl = invocation.Request.BaseUrl }, tx, ct);
            if (written.Status >= 300)
            {
                throw new FhirException(written.Status, written.Outcome ?? Outcomes.Error(OperationOutcome.IssueType.Exception, "The break-glass notification could not be written."));
            }

            await AuditTrail.AppendAsync(tx, [entry], ct);
            return written.Id!;
        }, ct);

        var result = new Parameters();
        foreach (var recipient in recipients)
        {
            result.Add("notified", new ResourceReference(recipient.Reference));
        }

        result.Add("patient", new ResourceReference($"Patient/{patient}"));
        result.Add("expires", new Instant(expires));
        result.Add("notification", new ResourceReference($"Communication/{communicationId}"));
        return new FhirResponse { Status = 200, Resource = result };
    }
}
