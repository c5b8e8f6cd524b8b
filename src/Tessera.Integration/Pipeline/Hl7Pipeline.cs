using System.Data.Common;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging;
using Tessera.Integration.Hl7;
using Tessera.Integration.Inbox;
using Tessera.Integration.Mapping;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Machinery;

namespace Tessera.Integration.Pipeline;

/// <summary>
/// Works through the inbox: parse → map → write FHIR, in the same transaction that marks the message done, with a
/// Provenance naming the source system and the message. A message that cannot be written goes to the dead letters
/// with the reason (its own writes rolled back to a savepoint; the rest of the batch is kept).
/// </summary>
internal sealed class Hl7Pipeline(FhirStore store, IReadOnlyList<Hl7Source> sources, ILogger logger)
{
    /// <summary>Processes up to <paramref name="max"/> claimable messages in one transaction; returns how many it took.</summary>
    public Task<int> ProcessBatchAsync(int max, CancellationToken ct, long? onlyId = null) =>
        store.WriteAsync(async tx =>
        {
            var rows = await Hl7Inbox.ClaimAsync(tx, max, ct, onlyId);
            foreach (var row in rows)
            {
                await tx.ExecuteAsync("SAVEPOINT hl7_message", ct);
                string? failure;
                try
                {
                    await ProcessAsync(tx, row, ct);
                    failure = null;
                }
                catch (Exception e) when (IsMessageFault(e))
                {
                    failure = e.Message;
                }

                if (failure is null)
                {
                    await Hl7Inbox.MarkDoneAsync(tx, row.Id, ct);
                    await tx.ExecuteAsync("RELEASE SAVEPOINT hl7_message", ct);
                    continue;
                }

                await tx.ExecuteAsync("ROLLBACK TO SAVEPOINT hl7_message", ct);
                await tx.ExecuteAsync("RELEASE SAVEPOINT hl7_message", ct);
                await Hl7Inbox.MarkDeadAsync(tx, row.Id, failure, ct);
                logger.LogWarning("HL7 {Event} {ControlId} from {Source} (inbox {Id}) went to the dead letters: {Reason}", row.Event, row.ControlId, row.Source, row.Id, failure);
            }

            return rows.Count;
        }, ct);

    /// <summary>Processes until nothing is left to claim (used by replay and tests); returns how many were taken.</summary>
    public async Task<int> DrainAsync(int batchSize, CancellationToken ct)
    {
        var total = 0;
        int taken;
        while ((taken = await ProcessBatchAsync(batchSize, ct)) > 0)
        {
            total += taken;
        }

        return total;
    }

    /// <summary>
    /// Faults of the message rather than of the system: they dead-letter it. Transient database faults (lost
    /// connection, deadlock) propagate instead, so the message stays pending and is tried again.
    /// </summary>
    private static bool IsMessageFault(Exception e) =>
        e is Hl7ProcessingException or Hl7MappingException or Hl7ParseException or FormatException
        || (e is DbException db && !db.IsTransient);

    private async System.Threading.Tasks.Task ProcessAsync(StoreTransaction tx, InboxRow row, CancellationToken ct)
    {
        var message = Hl7Message.Parse(row.Payload);
        var source = Hl7Source.Find(sources, message)
            ?? throw new Hl7ProcessingException($"the source {row.Source} is no longer configured (Tessera:Hl7:Sources); configure it and replay");
        var mapped = MessageMapper.Map(message, source);
        var written = new Dictionary<string, string>(StringComparer.Ordinal);
        var targets = new List<ResourceReference>();
        foreach (var write in mapped.Writes)
        {
            ResolveReferences(write.Resource, written);
            var response = await store.ExecuteAsync(FhirRequest.FromUrl("PUT", write.ConditionalUrl, write.Resource), tx, ct);
            Require(response, $"writing {write.Resource.TypeName} {write.MatchOn.System}|{write.MatchOn.Value}");
            written[write.Key] = $"{response.ResourceType ?? write.Resource.TypeName}/{response.Id}";
            targets.Add(new ResourceReference($"{written[write.Key]}/_history/{response.Version}"));
        }

        if (mapped.Merge is { } merge)
        {
            targets.AddRange(await MergeAsync(tx, merge, SenderOf(source, row), MessageOf(message, source, row), ct));
        }

        var provenance = ProvenanceFor(message, source, row, targets);
        Require(await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Provenance", provenance), tx, ct), "writing the Provenance");
        logger.LogDebug("HL7 {Event} {ControlId} from {Source} (inbox {Id}) written: {Targets}", row.Event, row.ControlId, row.Source, row.Id, string.Join(", ", targets.Select(t => t.Reference)));
    }

    /// <summary>A40: finds both source patients by their local numbers and asks the master patient index to merge them.</summary>
    /// <remarks>The index records the merge's Provenance with the sending system as its author and the message as its source.</remarks>
    private async Task<IEnumerable<ResourceReference>> MergeAsync(StoreTransaction tx, PatientMerge merge, ResourceReference sender, ResourceReference messageRef, CancellationToken ct)
    {
        var retired = await FindPatientAsync(tx, merge.Source, "the patient merged away (MRG-1)", ct);
        var surviving = await FindPatientAsync(tx, merge.Target, "the surviving patient (PID-3)", ct);
        var parameters = new Parameters();
        parameters.Add("source-patient", new ResourceReference(retired));
        parameters.Add("target-patient", new ResourceReference(surviving));
        parameters.Add("tessera-agent", sender);
        parameters.Add("tessera-source", messageRef);
        var response = await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient/$merge", parameters), tx, ct);
        if (response.Status == 404)
        {
            throw new Hl7ProcessingException($"Patient/$merge is not available on this server ({OutcomeText(response)}); the master patient index must register it — then run tessera hl7 replay");
        }

        Require(response, $"merging {retired} into {surviving}");
        return [new ResourceReference(retired), new ResourceReference(surviving)];
    }

    private async Task<string> FindPatientAsync(StoreTransaction tx, Identifier identifier, string what, CancellationToken ct)
    {
        var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"Patient?identifier={Uri.EscapeDataString(identifier.System ?? string.Empty)}|{Uri.EscapeDataString(identifier.Value ?? string.Empty)}"), tx, ct);
        Require(response, "finding " + what);
        var matches = (response.Resource as Bundle)?.Entry.Where(e => e.Resource is Patient).Select(e => e.Resource!.Id).ToList() ?? [];
        return matches.Count switch
        {
            1 => "Patient/" + matches[0],
            0 => throw new Hl7ProcessingException($"no Patient has identifier {identifier.System}|{identifier.Value} ({what}); send the patient first, then replay"),
            _ => throw new Hl7ProcessingException($"{matches.Count} Patients have identifier {identifier.System}|{identifier.Value} ({what}); it must identify one"),
        };
    }

    private static Provenance ProvenanceFor(Hl7Message message, Hl7Source source, InboxRow row, List<ResourceReference> targets)
    {
        var provenance = new Provenance
        {
            Target = targets,
            Recorded = DateTimeOffset.UtcNow,
            Activity = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0003", message.TriggerEvent, null, $"{row.Event} message"),
            Reason = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ActReason", "TREAT")],
        };
        provenance.Agent.Add(new Provenance.AgentComponent
        {
            Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "author", "Author", null),
            Who = SenderOf(source, row),
            OnBehalfOf = source.OrganizationReference(),
        });
        provenance.Entity.Add(new Provenance.EntityComponent { Role = Provenance.ProvenanceEntityRole.Source, What = MessageOf(message, source, row) });
        return provenance;
    }

    /// <summary>The sending system, as the author of what its messages do.</summary>
    private static ResourceReference SenderOf(Hl7Source source, InboxRow row) => new()
    {
        Type = "Device",
        Identifier = new Identifier("urn:tessera:hl7:source", row.Source),
        Display = source.Name,
    };

    /// <summary>The message itself, as the source of what was written from it.</summary>
    private static ResourceReference MessageOf(Hl7Message message, Hl7Source source, InboxRow row) => new()
    {
        Identifier = new Identifier(source.MessageSystem, message.ControlId),
        Display = $"HL7 v2 {row.Event} message {message.ControlId} from {row.Source} (inbox {row.Id}, MSH-7 {message.Header.Get(7)})",
    };

    /// <summary>Points references at the ids the message's earlier writes got.</summary>
    private static void ResolveReferences(Base node, Dictionary<string, string> written)
    {
        if (node is ResourceReference reference && reference.Reference is { } value && written.TryGetValue(value, out var id))
        {
            reference.Reference = id;
        }

        foreach (var (_, child) in node.EnumerateElements())
        {
            switch (child)
            {
                case Base b:
                    ResolveReferences(b, written);
                    break;
                case IEnumerable<Base> list:
                    foreach (var item in list)
                    {
                        ResolveReferences(item, written);
                    }

                    break;
            }
        }
    }

    private static void Require(FhirResponse response, string what)
    {
        if (response.Status is < 200 or >= 300)
        {
            throw new Hl7ProcessingException($"{what} failed with HTTP {response.Status}: {OutcomeText(response)}");
        }
    }

    private static string OutcomeText(FhirResponse response) =>
        response.Outcome is { } outcome
            ? string.Join("; ", outcome.Issue.Select(i => i.Diagnostics ?? i.Details?.Text).Where(t => !string.IsNullOrEmpty(t)))
            : "no details";
}

/// <summary>A stored message that cannot be written to the record; it goes to the dead letters with this reason.</summary>
internal sealed class Hl7ProcessingException(string reason) : Exception(reason);
