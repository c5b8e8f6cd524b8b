using System.Data.Common;
using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;

namespace Tessera.Governance.Audit;

/// <summary>
/// Answers reads and searches of AuditEvent from the audit trail (which lives outside the resource tables so that
/// no FHIR write can touch it): <c>AuditEvent/[id]</c> and <c>AuditEvent?patient=&amp;date=&amp;_count=</c>, newest first.
/// </summary>
internal sealed class AuditQuery(FhirStore store, AuditTrail audit)
{
    public async Task<FhirResponse> AnswerAsync(AccessRequest request, string? ownPatient, CancellationToken ct)
    {
        await audit.FlushAsync();
        await using var connection = await store.OpenConnectionAsync(ct);
        var person = ownPatient is null ? null : await PersonKeysAsync(connection, ownPatient, ct);
        if (request.Interaction == AccessInteraction.Read && request.Id is { } id)
        {
            await using var cmd = Command(connection, "SELECT id, recorded, patient_keys, json FROM gov_audit_event WHERE id = @id", ("@id", id));
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct) || (person is not null && !reader.GetString(2).Split(' ').Any(person.Contains)))
            {
                throw FhirException.NotFound($"AuditEvent/{id} is not in the audit trail of any record you may see.");
            }

            return new FhirResponse { Resource = AuditEvents.Restore(reader.GetString(0), reader.GetInt64(1), reader.GetString(2), reader.GetString(3)), ResourceType = "AuditEvent", Id = id };
        }

        return await SearchAsync(connection, request, person, ct);
    }

    /// <summary>The patient's own key and those of the same person's other records (master patient links).</summary>
    internal static async Task<HashSet<string>> PersonKeysAsync(DbConnection connection, string patient, CancellationToken ct)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal) { patient };
        await using var cmd = Command(connection, "SELECT l2.patient_key FROM gov_person_link l1 JOIN gov_person_link l2 ON l2.person_key = l1.person_key WHERE l1.patient_key = @p", ("@p", patient));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            keys.Add(reader.GetString(0));
        }

        return keys;
    }

    private static async Task<FhirResponse> SearchAsync(DbConnection connection, AccessRequest request, HashSet<string>? person, CancellationToken ct)
    {
        var where = new List<string>();
        var parameters = new List<(string, object?)>();
        var count = 50;
        (long Recorded, long Seq)? before = null;
        var patients = new List<string>();
        foreach (var (key, value) in request.Request.Query)
        {
            switch (key)
            {
                case "patient" or "entity" or "patient:Patient":
                    patients.AddRange(value.Split(',').Select(v => v.StartsWith("Patient/", StringComparison.Ordinal) ? v["Patient/".Length..] : v));
                    break;
                case "date":
                    where.Add(DateClause(value, parameters));
                    break;
                case "_count":
                    count = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var c) && c > 0 ? Math.Min(c, 1000) : throw FhirException.BadRequest($"_count must be a whole number of 1 or more, not '{value}'.", "_count");
                    break;
                case "_before":
                    before = value.Split('.') is [var r, var q] && long.TryParse(r, NumberStyles.None, CultureInfo.InvariantCulture, out var br) && long.TryParse(q, NumberStyles.None, CultureInfo.InvariantCulture, out var bq)
                        ? (br, bq)
                        : throw FhirException.BadRequest("The paging position is not valid: follow the bundle's next link as given.", "_before");
                    break;
                case "_format" or "_pretty" or "_sort" or "_total":
                    break;
                default:
                    throw FhirException.BadRequest($"The audit trail is searched by patient, date and _count; '{key}' is not supported.", key, OperationOutcome.IssueType.NotSupported);
            }
        }

        if (person is not null)
        {
            if (patients.FirstOrDefault(p => !person.Contains(p)) is { } other)
            {
                throw new FhirException(403, Outcomes.Error(OperationOutcome.IssueType.Forbidden, $"You may read the audit of your own record only, not of Patient/{other}."));
            }

            if (patients.Count == 0)
            {
                patients.AddRange(person);
            }
        }

        if (patients.Count > 0)
        {
            var names = patients.Select((p, i) => { parameters.Add(($"@p{i}", p)); return $"@p{i}"; }).ToList();
            where.Add(AuditSubjects.ConcernsAny(connection, "a", names));
        }

        var filter = where.Count == 0 ? string.Empty : " WHERE " + string.Join(" AND ", where);
        int? total = null;
        if (before is null)
        {
            await using var countCmd = Command(connection, "SELECT COUNT(*) FROM gov_audit_event a" + filter, [.. parameters]);
            total = Convert.ToInt32(await countCmd.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
        }

        // Newest access first (events are stamped when the access happened; reads' events may be committed a moment
        // after a later write's), paged by (time, position) so that pages neither repeat nor skip.
        var pageFilter = before is null ? filter : (filter.Length == 0 ? " WHERE " : filter + " AND ") + "(a.recorded < @br OR (a.recorded = @br AND a.seq < @bs))";
        var bundle = new Bundle { Id = Guid.NewGuid().ToString(), Type = Bundle.BundleType.Searchset, Total = total, Meta = new Meta { LastUpdated = DateTimeOffset.UtcNow } };
        var baseUrl = request.Request.BaseUrl.TrimEnd('/');
        var rows = new List<(long Seq, AuditEvent Event, long Recorded)>();
        await using (var cmd = Command(connection, $"SELECT a.seq, a.id, a.recorded, a.patient_keys, a.json FROM gov_audit_event a{pageFilter} ORDER BY a.recorded DESC, a.seq DESC LIMIT {count + 1}", [.. parameters, ("@br", before?.Recorded), ("@bs", before?.Seq)]))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                rows.Add((reader.GetInt64(0), AuditEvents.Restore(reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4)), reader.GetInt64(2)));
            }
        }

        var query = string.Join('&', request.Request.Query.Where(q => q.Key != "_before").Select(q => $"{Uri.EscapeDataString(q.Key)}={Uri.EscapeDataString(q.Value)}"));
        bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = $"{baseUrl}/AuditEvent?{query}" });
        if (rows.Count > count)
        {
            rows.RemoveAt(rows.Count - 1);
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = $"{baseUrl}/AuditEvent?{query}{(query.Length > 0 ? "&" : string.Empty)}_before={rows[^1].Recorded.ToString(CultureInfo.InvariantCulture)}.{rows[^1].Seq.ToString(CultureInfo.InvariantCulture)}" });
        }

        foreach (var (_, ev, _) in rows)
        {
            bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = $"{baseUrl}/AuditEvent/{ev.Id}", Resource = ev, Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match } });
        }

        return new FhirResponse { Resource = bundle };
    }

    private static string DateClause(string value, List<(string, object?)> parameters)
    {
        var prefix = value.Length > 2 && char.IsLetter(value[0]) ? value[..2] : "eq";
        var text = prefix == "eq" && !value.StartsWith("eq", StringComparison.Ordinal) ? value : value[2..];
        if (!DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            throw FhirException.BadRequest($"date must be a date or instant such as ge2026-01-31, not '{value}'.", "date");
        }

        var dayOnly = text.Length <= 10;
        var low = at.ToUnixTimeMilliseconds();
        var high = (dayOnly ? at.AddDays(1) : at.AddSeconds(1)).ToUnixTimeMilliseconds();
        var name = "@d" + parameters.Count.ToString(CultureInfo.InvariantCulture);
        var name2 = name + "h";
        parameters.Add((name, low));
        parameters.Add((name2, high));
        return prefix switch
        {
            "ge" => $"a.recorded >= {name}",
            "gt" => $"a.recorded >= {name2}",
            "le" => $"a.recorded < {name2}",
            "lt" => $"a.recorded < {name}",
            "eq" => $"a.recorded >= {name} AND a.recorded < {name2}",
            _ => throw FhirException.BadRequest($"date takes the prefixes eq, ge, gt, le and lt, not '{prefix}'.", "date"),
        };
    }

    private static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters) =>
        FhirStore.Command(connection, sql, parameters);
}
