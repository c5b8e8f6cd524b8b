using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Bulk;
using Tessera.RecordStore.Machinery;
using Tessera.RecordStore.Storage;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Governance.Relationships;

/// <summary>
/// Keeps the governance index from the resources that establish care relationships, person links and consent,
/// in the transaction that writes them: a relationship never lags the resource that created or ended it.
/// <para>
/// A person's records share their relationships and consent: each row written for one record is copied to the
/// other records of the same person (the master patient's links), with <c>via</c> naming the record it came from.
/// The access filter then tests a row's own patient key, with no join over the links on every probe. Copies go
/// with their source rows (deleted by the same source), and are worked out again whenever a person's links change.
/// </para>
/// </summary>
internal sealed class RelationshipIndex(Policy.GovernanceChanges? changes = null) : IResourceBatchWriteObserver
{
    /// <summary>Resource types this index reads; every other write passes straight through.</summary>
    public static readonly string[] Sources = ["Patient", "Encounter", "EpisodeOfCare", "ServiceRequest", "CareTeam", "Consent", "RelatedPerson"];

    private static readonly HashSet<Encounter.EncounterStatus> OpenEncounter =
        [Encounter.EncounterStatus.Planned, Encounter.EncounterStatus.Arrived, Encounter.EncounterStatus.Triaged, Encounter.EncounterStatus.InProgress, Encounter.EncounterStatus.Onleave];

    private static readonly HashSet<EpisodeOfCare.EpisodeOfCareStatus> OpenEpisode =
        [EpisodeOfCare.EpisodeOfCareStatus.Planned, EpisodeOfCare.EpisodeOfCareStatus.Waitlist, EpisodeOfCare.EpisodeOfCareStatus.Active, EpisodeOfCare.EpisodeOfCareStatus.Onhold];

    private static readonly HashSet<RequestStatus> OpenRequest = [RequestStatus.Active, RequestStatus.OnHold];

    public const string MpiSystem = "urn:tessera:mpi";

    public async Task OnWrittenAsync(StoreTransaction transaction, string resourceType, string id, Resource? resource, CancellationToken ct)
    {
        foreach (var (version, label) in Labels(resource))
        {
            await transaction.ExecuteAsync(
                "INSERT INTO gov_version_label (resource_type, id, version, label) VALUES (@t, @id, @v, @label)",
                ct, ("@t", resourceType), ("@id", id), ("@v", version), ("@label", label));
        }

        if (Array.IndexOf(Sources, resourceType) < 0)
        {
            return;
        }

        changes?.WrittenBy(transaction);
        await transaction.ExecuteAsync("DELETE FROM gov_relationship WHERE source_type = @t AND source_id = @id", ct, ("@t", resourceType), ("@id", id));
        if (resourceType == "Consent")
        {
            await transaction.ExecuteAsync("DELETE FROM gov_consent_rule WHERE consent_id = @id", ct, ("@id", id));
        }

        if (resourceType == "Patient")
        {
            await SyncPersonLinksAsync(transaction, id, resource as Patient, ct);
        }

        if (resource is null)
        {
            return;
        }

        var related = false;
        foreach (var (patient, party, basis, expires) in Relationships(resource))
        {
            await transaction.ExecuteAsync(
                "INSERT INTO gov_relationship (patient_key, party, basis, source_type, source_id, expires) VALUES (@p, @party, @basis, @t, @id, @exp)",
                ct, ("@p", patient), ("@party", party), ("@basis", basis), ("@t", resourceType), ("@id", id), ("@exp", expires));
            related = true;
        }

        if (related)
        {
            await CopySourceAsync(transaction, resourceType, id, ct);
        }

        if (resource is Consent consent)
        {
            var ruled = false;
            foreach (var (patient, org, label, expires) in ConsentRules(consent))
            {
                await transaction.ExecuteAsync(
                    "INSERT INTO gov_consent_rule (consent_id, patient_key, org, label, expires) VALUES (@id, @p, @org, @label, @exp)",
                    ct, ("@id", id), ("@p", patient), ("@org", org), ("@label", label), ("@exp", expires));
                ruled = true;
            }

            if (ruled)
            {
                await transaction.ExecuteAsync(CopyConsentRules("c.consent_id = @id"), ct, ("@id", id));
            }
        }
    }

    /// <summary>
    /// Copies the relationships of record <c>l1</c> (the rows matching <paramref name="where"/>, over <c>g</c>, <c>l1</c>
    /// and <c>l2</c>) to the other records <c>l2</c> of each person it belongs to.
    /// </summary>
    internal static string CopyRelationships(string where) => RelationshipCopy.Sql(where);

    /// <summary>As <see cref="CopyRelationships"/>, for consent rules (over <c>c</c>, <c>l1</c> and <c>l2</c>).</summary>
    internal static string CopyConsentRules(string where) => ConsentRuleCopy.Sql(where);

    private static readonly CopyShape RelationshipCopy = new(
        "gov_relationship", "g", "patient_key, party, basis, source_type, source_id, expires, via", "l2.patient_key, g.party, g.basis, g.source_type, g.source_id, g.expires, g.patient_key");

    private static readonly CopyShape ConsentRuleCopy = new(
        "gov_consent_rule", "c", "consent_id, patient_key, org, label, expires, via", "c.consent_id, l2.patient_key, c.org, c.label, c.expires, c.patient_key");

    /// <summary>How one governance table's own rows (<c>via</c> null) are copied to the other records of their person.</summary>
    private sealed record CopyShape(string Table, string Alias, string Columns, string Selected)
    {
        public string Sql(string where) => $"""
            INSERT INTO {Table} ({Columns})
            SELECT DISTINCT {Selected}
            FROM {Table} {Alias}
            JOIN gov_person_link l1 ON l1.patient_key = {Alias}.patient_key
            JOIN gov_person_link l2 ON l2.person_key = l1.person_key AND l2.patient_key <> {Alias}.patient_key
            WHERE {Alias}.via IS NULL AND ({where})
            """;

        /// <summary>
        /// Deletes the copies made from the records in <paramref name="list"/> (all the records a person had or now
        /// has) and makes them anew from the person links as they now are. A copy from a record outside the list onto
        /// one in it is another person's doing and stays. Both statements find their rows by an index on the list;
        /// a condition on either end of the links (<c>l1 IN … OR l2 IN …</c>) had left SQLite none to start from, and
        /// it scanned the table for every master written, quadratic in a catch-up of a whole region.
        /// </summary>
        public IEnumerable<string> ForRecords(string list)
        {
            yield return $"DELETE FROM {Table} WHERE via IN ({list})";
            yield return Sql($"l1.patient_key IN ({list})");
        }
    }

    /// <summary>Copies the relationships one source resource (or break-glass grant) established to the other records of the person.</summary>
    internal static Task CopySourceAsync(StoreTransaction transaction, string sourceType, string sourceId, CancellationToken ct) =>
        transaction.ExecuteAsync(CopyRelationships("g.source_type = @t AND g.source_id = @id"), ct, ("@t", sourceType), ("@id", sourceId));

    /// <summary>
    /// A bulk load's batch: new resources have no rows to replace and a new source Patient no person links, so their
    /// rows are inserted together; anything else (a later version, a deletion, a master) goes one by one as above.
    /// </summary>
    public async Task OnWrittenManyAsync(StoreTransaction transaction, IReadOnlyList<WrittenResource> written, CancellationToken ct)
    {
        var relationships = new List<(string Patient, string Party, string Basis, string Type, string Id, long? Expires)>();
        var rules = new List<(string Consent, string Patient, string? Org, string? Label, long? Expires)>();
        var labels = new List<(string Type, string Id, long Version, string Label)>();
        foreach (var w in written)
        {
            if (Array.IndexOf(Sources, w.ResourceType) < 0)
            {
                labels.AddRange(Labels(w.Resource).Select(l => (w.ResourceType, w.Id, l.Version, l.Label)));
                continue;
            }

            changes?.WrittenBy(transaction);

            if (!w.IsNew || w.Resource is null || (w.Resource is Patient patient && IsMaster(patient)))
            {
                await OnWrittenAsync(transaction, w.ResourceType, w.Id, w.Resource, ct);
                continue;
            }

            labels.AddRange(Labels(w.Resource).Select(l => (w.ResourceType, w.Id, l.Version, l.Label)));
            relationships.AddRange(Relationships(w.Resource).Select(r => (r.Patient, r.Party, r.Basis, w.ResourceType, w.Id, r.Expires)));
            if (w.Resource is Consent consent)
            {
                rules.AddRange(ConsentRules(consent).Select(r => (w.Id, r.Patient, r.Org, r.Label, r.Expires)));
            }
        }

        if (transaction.Kind == DatabaseKind.Postgres)
        {
            if (relationships.Count > 0)
            {
                await transaction.ExecuteAsync(
                    "INSERT INTO gov_relationship (patient_key, party, basis, source_type, source_id, expires) SELECT * FROM unnest(CAST(@p AS text[]), CAST(@party AS text[]), CAST(@basis AS text[]), CAST(@t AS text[]), CAST(@id AS text[]), CAST(@exp AS bigint[]))",
                    ct, ("@p", relationships.Select(r => r.Patient).ToArray()), ("@party", relationships.Select(r => r.Party).ToArray()), ("@basis", relationships.Select(r => r.Basis).ToArray()),
                    ("@t", relationships.Select(r => r.Type).ToArray()), ("@id", relationships.Select(r => r.Id).ToArray()), ("@exp", relationships.Select(r => r.Expires).ToArray()));
            }

            if (labels.Count > 0)
            {
                await transaction.ExecuteAsync(
                    "INSERT INTO gov_version_label (resource_type, id, version, label) SELECT * FROM unnest(CAST(@t AS text[]), CAST(@id AS text[]), CAST(@v AS bigint[]), CAST(@label AS text[]))",
                    ct, ("@t", labels.Select(l => l.Type).ToArray()), ("@id", labels.Select(l => l.Id).ToArray()), ("@v", labels.Select(l => l.Version).ToArray()), ("@label", labels.Select(l => l.Label).ToArray()));
            }

            if (rules.Count > 0)
            {
                await transaction.ExecuteAsync(
                    "INSERT INTO gov_consent_rule (consent_id, patient_key, org, label, expires) SELECT * FROM unnest(CAST(@id AS text[]), CAST(@p AS text[]), CAST(@org AS text[]), CAST(@label AS text[]), CAST(@exp AS bigint[]))",
                    ct, ("@id", rules.Select(r => r.Consent).ToArray()), ("@p", rules.Select(r => r.Patient).ToArray()), ("@org", rules.Select(r => r.Org).ToArray()),
                    ("@label", rules.Select(r => r.Label).ToArray()), ("@exp", rules.Select(r => r.Expires).ToArray()));
            }
        }
        else
        {
            // SQLite runs in the process: one prepared statement run per row costs no round trip.
            await InsertEachAsync(transaction, "gov_relationship", ["patient_key", "party", "basis", "source_type", "source_id", "expires"],
                relationships.Select(r => new object?[] { r.Patient, r.Party, r.Basis, r.Type, r.Id, r.Expires }), ct);
            await InsertEachAsync(transaction, "gov_consent_rule", ["consent_id", "patient_key", "org", "label", "expires"],
                rules.Select(r => new object?[] { r.Consent, r.Patient, r.Org, r.Label, r.Expires }), ct);
            await InsertEachAsync(transaction, "gov_version_label", ["resource_type", "id", "version", "label"],
                labels.Select(l => new object?[] { l.Type, l.Id, l.Version, l.Label }), ct);
        }

        await CopyLoadedAsync(transaction, relationships, rules, ct);
    }

    /// <summary>
    /// Copies a load's new relationships and consent rules to the other records of their people; nothing to do while no
    /// person has links yet (a load into an empty store links its people afterwards, and the links bring the copies).
    /// </summary>
    private static async Task CopyLoadedAsync(StoreTransaction transaction, List<(string Patient, string Party, string Basis, string Type, string Id, long? Expires)> relationships,
        List<(string Consent, string Patient, string? Org, string? Label, long? Expires)> rules, CancellationToken ct)
    {
        if ((relationships.Count == 0 && rules.Count == 0) || await transaction.ScalarAsync("SELECT 1 FROM gov_person_link LIMIT 1", ct) is null)
        {
            return;
        }

        var sources = relationships.Select(r => (r.Type, r.Id)).Distinct().ToList();
        var consents = rules.Select(r => r.Consent).Distinct().ToList();
        if (transaction.Kind == DatabaseKind.Postgres)
        {
            // One statement each for the whole batch (keys as arrays), as the rows themselves were inserted.
            if (sources.Count > 0)
            {
                await transaction.ExecuteAsync(
                    CopyRelationships("(g.source_type, g.source_id) IN (SELECT * FROM unnest(CAST(@t AS text[]), CAST(@id AS text[])))"),
                    ct, ("@t", sources.Select(s => s.Type).ToArray()), ("@id", sources.Select(s => s.Id).ToArray()));
            }

            if (consents.Count > 0)
            {
                await transaction.ExecuteAsync(CopyConsentRules("c.consent_id = ANY(CAST(@id AS text[]))"), ct, ("@id", consents.ToArray()));
            }

            return;
        }

        foreach (var (type, id) in sources)
        {
            await CopySourceAsync(transaction, type, id, ct);
        }

        foreach (var consent in consents)
        {
            await transaction.ExecuteAsync(CopyConsentRules("c.consent_id = @id"), ct, ("@id", consent));
        }
    }

    /// <summary>
    /// The security label codes of a version (meta.security), kept per version so that a consent rule on a sensitive
    /// category decides each version by the labels it carried (docs/governance.md, "Consent").
    /// </summary>
    private static IEnumerable<(long Version, string Label)> Labels(Resource? resource)
    {
        if (resource?.Meta is not { Security.Count: > 0 } meta)
        {
            yield break;
        }

        var version = long.TryParse(meta.VersionId, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : 1;
        foreach (var code in meta.Security.Select(s => s.Code).OfType<string>().Where(c => c.Length > 0).Distinct(StringComparer.Ordinal))
        {
            yield return (version, code);
        }
    }

    private static async Task InsertEachAsync(StoreTransaction transaction, string table, string[] columns, IEnumerable<object?[]> rows, CancellationToken ct)
    {
        System.Data.Common.DbCommand? command = null;
        try
        {
            foreach (var row in rows)
            {
                if (command is null)
                {
                    command = transaction.Command(
                        $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", columns.Select(c => "@" + c))})",
                        [.. columns.Select(c => ("@" + c, (object?)null))]);
                    command.Prepare();
                }

                for (var i = 0; i < row.Length; i++)
                {
                    command.Parameters[i].Value = row[i] ?? DBNull.Value;
                }

                await command.ExecuteNonQueryAsync(ct);
            }
        }
        finally
        {
            if (command is not null)
            {
                await command.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Brings a master's person links to what the master now says, changing only what differs: a person's master
    /// is rewritten each time one of their records is linked, so rewriting all its links would grow with the square
    /// of the person's records.
    /// </summary>
    private static async Task SyncPersonLinksAsync(StoreTransaction transaction, string id, Patient? patient, CancellationToken ct)
    {
        var wanted = patient is not null && IsMaster(patient)
            ? patient.Link.Where(l => l.Type is not Patient.LinkType.ReplacedBy).Select(l => References.IdOf(l.Other, "Patient")).OfType<string>().Append(id).ToHashSet(StringComparer.Ordinal)
            : [];
        var held = new HashSet<string>(StringComparer.Ordinal);
        await using (var cmd = transaction.Command("SELECT patient_key FROM gov_person_link WHERE person_key = @id", ("@id", id)))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                held.Add(reader.GetString(0));
            }
        }

        foreach (var gone in held.Except(wanted))
        {
            await transaction.ExecuteAsync("DELETE FROM gov_person_link WHERE person_key = @m AND patient_key = @p", ct, ("@m", id), ("@p", gone));
        }

        foreach (var added in wanted.Except(held))
        {
            await transaction.ExecuteAsync("INSERT INTO gov_person_link (person_key, patient_key) VALUES (@m, @p)", ct, ("@m", id), ("@p", added));
        }

        if (!held.SetEquals(wanted))
        {
            await RecopyAsync(transaction, [.. held.Union(wanted)], ct);
        }
    }

    /// <summary>
    /// Works out again the copies within a person whose links have just changed (<paramref name="records"/>: every
    /// record it had or now has): every copy from one of them goes, and each is copied anew from the links as they now
    /// are. Copies between two records exist only through a person holding both, so no other copy can have changed
    /// (a record that is also another person's keeps what that person gives it).
    /// </summary>
    private static async Task RecopyAsync(StoreTransaction transaction, IReadOnlyList<string> records, CancellationToken ct)
    {
        var list = string.Join(", ", records.Select((_, i) => $"@k{i}"));
        var parameters = records.Select((r, i) => ($"@k{i}", (object?)r)).ToArray();
        foreach (var shape in (CopyShape[])[RelationshipCopy, ConsentRuleCopy])
        {
            foreach (var statement in shape.ForRecords(list))
            {
                await transaction.ExecuteAsync(statement, ct, parameters);
            }
        }
    }

    public static bool IsMaster(Patient patient) => patient.Meta?.Tag.Any(t => t.System == MpiSystem && t.Code == "master") == true;

    /// <summary>(patient, party, basis, expires) for each care relationship the resource establishes while it is open.</summary>
    internal static IEnumerable<(string Patient, string Party, string Basis, long? Expires)> Relationships(Resource resource)
    {
        switch (resource)
        {
            case Patient p when p.Id is not null:
                foreach (var gp in p.GeneralPractitioner)
                {
                    if (References.Local(gp) is { } party)
                    {
                        yield return (p.Id, party, "registered", null);
                    }
                }

                break;
            case Encounter e when References.IdOf(e.Subject, "Patient") is { } patient && e.Status is { } status && OpenEncounter.Contains(status):
                foreach (var party in Parties([e.ServiceProvider, .. e.Participant.Select(x => x.Individual)]))
                {
                    yield return (patient, party, "encounter", null);
                }

                break;
            case EpisodeOfCare ep when References.IdOf(ep.Patient, "Patient") is { } patient && ep.Status is { } status && OpenEpisode.Contains(status):
                foreach (var party in Parties([ep.ManagingOrganization, ep.CareManager, .. ep.Team]))
                {
                    yield return (patient, party, "episode", End(ep.Period));
                }

                break;
            case ServiceRequest sr when References.IdOf(sr.Subject, "Patient") is { } patient && sr.Status is { } status && OpenRequest.Contains(status):
                foreach (var party in Parties(sr.Performer))
                {
                    yield return (patient, party, "referral", null);
                }

                break;
            case CareTeam team when References.IdOf(team.Subject, "Patient") is { } patient && team.Status is null or CareTeam.CareTeamStatus.Active:
                foreach (var party in Parties([.. team.Participant.Select(x => x.Member), .. team.Participant.Select(x => x.OnBehalfOf)]).Append($"CareTeam/{team.Id}"))
                {
                    yield return (patient, party, "care-team", End(team.Period));
                }

                break;
            case RelatedPerson rp when References.IdOf(rp.Patient, "Patient") is { } patient && rp.Active != false:
                yield return (patient, $"RelatedPerson/{rp.Id}", "related-person", End(rp.Period));
                break;
            case Consent c when References.IdOf(c.Patient, "Patient") is { } patient && c.Status == Consent.ConsentState.Active:
                foreach (var provision in Provisions(c.Provision).Where(x => x.Type == Consent.ConsentProvisionType.Permit))
                {
                    foreach (var actor in provision.Actor)
                    {
                        if (References.Local(actor.Reference) is { } party && party.StartsWith("RelatedPerson/", StringComparison.Ordinal))
                        {
                            yield return (patient, party, "carer-consent", End(provision.Period) ?? End(c.Provision?.Period));
                        }
                    }
                }

                break;
        }
    }

    /// <summary>
    /// (patient, organisation or null for everyone, security label code or null for all data, expires) for each
    /// deny provision of an active Consent: an opt-out (deny, no actor, no label), a deny for a named organisation,
    /// or restricted sensitive categories (deny with security labels).
    /// </summary>
    internal static IEnumerable<(string Patient, string? Org, string? Label, long? Expires)> ConsentRules(Consent consent)
    {
        if (References.IdOf(consent.Patient, "Patient") is not { } patient || consent.Status != Consent.ConsentState.Active)
        {
            yield break;
        }

        foreach (var provision in Provisions(consent.Provision).Where(x => x.Type == Consent.ConsentProvisionType.Deny))
        {
            var expires = End(provision.Period) ?? End(consent.Provision?.Period);
            var orgs = provision.Actor.Select(a => References.Local(a.Reference)).Where(r => r?.StartsWith("Organization/", StringComparison.Ordinal) == true).ToList();
            var labels = provision.SecurityLabel.Select(l => l.Code).Where(c => !string.IsNullOrEmpty(c)).ToList();
            if (provision.Actor.Count > 0 && orgs.Count == 0)
            {
                continue; // A deny aimed only at people or roles is not modelled here; see docs/governance.md.
            }

            foreach (var org in orgs.Count == 0 ? [null] : orgs)
            {
                foreach (var label in labels.Count == 0 ? [null] : labels.Cast<string?>())
                {
                    yield return (patient, org, label, expires);
                }
            }
        }
    }

    private static IEnumerable<Consent.provisionComponent> Provisions(Consent.provisionComponent? root)
    {
        if (root is null)
        {
            yield break;
        }

        yield return root;
        foreach (var nested in root.Provision.SelectMany(Provisions))
        {
            yield return nested;
        }
    }

    private static IEnumerable<string> Parties(IEnumerable<ResourceReference?> references) =>
        references.Select(References.Local).OfType<string>().Distinct();

    private static long? End(Period? period) => period?.EndElement?.ToDateTimeOffset(TimeSpan.Zero).ToUnixTimeMilliseconds();

    /// <summary>Rebuilds the index from the stored resources (first start on a store that already holds data).</summary>
    public async Task RebuildAsync(FhirStore store, CancellationToken ct)
    {
        foreach (var type in Sources)
        {
            string? cursor = null;
            do
            {
                var url = type + "?_count=500" + (cursor is null ? string.Empty : "&_cursor=" + cursor);
                var response = await store.ExecuteAsync(Tessera.RecordStore.Interactions.FhirRequest.FromUrl("GET", url), ct);
                var bundle = (Bundle)FhirStore.Materialise(response);
                await store.WriteAsync(async tx =>
                {
                    foreach (var resource in bundle.Entry.Select(e => e.Resource).OfType<Resource>())
                    {
                        await OnWrittenAsync(tx, type, resource.Id!, resource, ct);
                    }

                    return 0;
                }, ct);
                var next = bundle.NextLink?.ToString();
                cursor = next is null ? null : Tessera.RecordStore.Interactions.FhirRequest.FromUrl("GET", next).Query.FirstOrDefault(p => p.Key == "_cursor").Value;
            }
            while (cursor is not null);
        }
    }
}
