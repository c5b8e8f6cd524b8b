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
            if (await FindAsync(connection, id, ct) is not { } found || (person is not null && !found.Concerns(person)))
            {
                throw FhirException.NotFound($"AuditEvent/{id} is not in the audit trail of any record you may see.");
            }

            return new FhirResponse { Resource = found.Restore(), ResourceType = "AuditEvent", Id = id };
        }

        return await SearchAsync(connection, request, person, ct);
    }

    /// <summary>
    /// The event with this id: the event of a row of its own, or one of a batch row's, named by the row's id and its
    /// place (both looked up in one statement; a batch row's own id names no event).
    /// </summary>
    private static async Task<AuditRows.Stored?> FindAsync(DbConnection connection, string id, CancellationToken ct)
    {
        var batched = AuditRows.TrySplitId(id, out var rowId, out var position);
        AuditRows.Stored? found = null;
        await using var cmd = Command(connection, "SELECT seq, id, recorded, patient_keys, json FROM gov_audit_event WHERE id IN (@id, @row)", ("@id", id), ("@row", batched ? rowId : id));
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var (seq, rowKey, recorded, patients, json) = (reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4));
            if (!AuditRows.IsBatch(json))
            {
                return rowKey == id ? AuditRows.Events(seq, rowKey, recorded, patients, json).Single() : found;
            }

            if (batched && rowKey == rowId)
            {
                found = AuditRows.Events(seq, rowKey, recorded, patients, json, (p, _, _) => p == position).SingleOrDefault();
            }
        }

        return found;
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

    /// <summary>Which events a search wants: concerning any of the patients (all when none are given) and recorded in [low, high).</summary>
    private sealed record Filter(IReadOnlySet<string>? Patients, long? Low, long? High)
    {
        public bool Wants(long recorded) => recorded >= (Low ?? long.MinValue) && recorded < (High ?? long.MaxValue);

        public bool Wants(string patients) => Patients is null || AuditRows.Concerns(patients, Patients);

        /// <summary>
        /// Conditions on a row <c>a</c> that every row holding a wanted event meets: it concerns one of the patients,
        /// and its newest event is not older than the low bound, nor its oldest (at most <see cref="AuditRows.Spread"/>
        /// older than its newest) newer than the high bound. Events are then tested one by one.
        /// </summary>
        public List<string> RowConditions(DbConnection connection, List<(string, object?)> parameters)
        {
            var where = new List<string>();
            if (Patients is { Count: > 0 })
            {
                var names = Patients.Select((p, i) => { parameters.Add(($"@p{i}", p)); return $"@p{i}"; }).ToList();
                where.Add(AuditSubjects.ConcernsAny(connection, "a", names));
            }

            if (Low is { } low)
            {
                parameters.Add(("@lo", low));
                where.Add("a.recorded >= @lo");
            }

            if (High is { } high)
            {
                parameters.Add(("@hi_w", high + AuditRows.Spread));
                where.Add("a.recorded < @hi_w");
            }

            return where;
        }
    }

    private static async Task<FhirResponse> SearchAsync(DbConnection connection, AccessRequest request, HashSet<string>? person, CancellationToken ct)
    {
        var count = 50;
        (long Recorded, long Seq, int Position)? before = null;
        var patients = new List<string>();
        long? low = null, high = null;
        foreach (var (key, value) in request.Request.Query)
        {
            switch (key)
            {
                case "patient" or "entity" or "patient:Patient":
                    patients.AddRange(value.Split(',').Select(v => v.StartsWith("Patient/", StringComparison.Ordinal) ? v["Patient/".Length..] : v));
                    break;
                case "date":
                    var (from, to) = DateBounds(value);
                    (low, high) = (from is null ? low : Math.Max(from.Value, low ?? long.MinValue), to is null ? high : Math.Min(to.Value, high ?? long.MaxValue));
                    break;
                case "_count":
                    count = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var c) && c > 0 ? Math.Min(c, 1000) : throw FhirException.BadRequest($"_count must be a whole number of 1 or more, not '{value}'.", "_count");
                    break;
                case "_before":
                    before = ParsePosition(value);
                    break;
                case "_format" or "_pretty" or "_sort" or "_total":
                    break;
                default:
                    throw FhirException.BadRequest($"The audit trail is searched by patient, date and _count; '{key}' is not supported.", key, OperationOutcome.IssueType.NotSupported);
            }
        }

        // (A patient key is one word: an empty one, or a batch row's separator, would only make every batch row a candidate.)
        if (patients.FirstOrDefault(p => p.Length == 0 || p == "|" || p.Contains(' ', StringComparison.Ordinal)) is { } invalid)
        {
            throw FhirException.BadRequest($"patient must name a Patient by its id, not '{invalid}'.", "patient");
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

        var filter = new Filter(patients.Count == 0 ? null : patients.ToHashSet(StringComparer.Ordinal), low, high);
        var total = before is null ? await CountAsync(connection, filter, ct) : (int?)null;

        // Newest access first (events are stamped when the access happened; reads' events may be committed a moment
        // after a later write's), paged by (time, row, place in the row) so that pages neither repeat nor skip.
        var events = await PageAsync(connection, filter, before, count + 1, ct);
        var bundle = new Bundle { Id = Guid.NewGuid().ToString(), Type = Bundle.BundleType.Searchset, Total = total, Meta = new Meta { LastUpdated = DateTimeOffset.UtcNow } };
        var baseUrl = request.Request.BaseUrl.TrimEnd('/');
        var query = string.Join('&', request.Request.Query.Where(q => q.Key != "_before").Select(q => $"{Uri.EscapeDataString(q.Key)}={Uri.EscapeDataString(q.Value)}"));
        bundle.Link.Add(new Bundle.LinkComponent { Relation = "self", Url = $"{baseUrl}/AuditEvent?{query}" });
        if (events.Count > count)
        {
            events.RemoveAt(events.Count - 1);
            var last = events[^1];
            var position = string.Join('.', last.Recorded.ToString(CultureInfo.InvariantCulture), last.Seq.ToString(CultureInfo.InvariantCulture), last.Position.ToString(CultureInfo.InvariantCulture));
            bundle.Link.Add(new Bundle.LinkComponent { Relation = "next", Url = $"{baseUrl}/AuditEvent?{query}{(query.Length > 0 ? "&" : string.Empty)}_before={position}" });
        }

        foreach (var ev in events.Select(e => e.Restore()))
        {
            bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = $"{baseUrl}/AuditEvent/{ev.Id}", Resource = ev, Search = new Bundle.SearchComponent { Mode = Bundle.SearchEntryMode.Match } });
        }

        return new FhirResponse { Resource = bundle };
    }

    /// <summary>A paging position: time, row and place (links made before batch rows have no place, which is 0).</summary>
    private static (long, long, int) ParsePosition(string value)
    {
        var parts = value.Split('.');
        if (parts.Length is 2 or 3
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var recorded)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var seq))
        {
            if (parts.Length == 2)
            {
                return (recorded, seq, 0);
            }

            if (int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var position))
            {
                return (recorded, seq, position);
            }
        }

        throw FhirException.BadRequest("The paging position is not valid: follow the bundle's next link as given.", "_before");
    }

    /// <summary>
    /// How many events the filter wants. Rows of one event are counted by the database; a batch row whose events
    /// all lie inside the dates counts its events (or, for patients, those whose patient list names one) from its
    /// columns, and only a batch row astride a date bound is read event by event.
    /// </summary>
    private static async Task<int> CountAsync(DbConnection connection, Filter filter, CancellationToken ct)
    {
        if (filter is { Patients: null, Low: null, High: null })
        {
            await using var all = Command(connection, "SELECT COALESCE(SUM(COALESCE(a.events, 1)), 0) FROM gov_audit_event a");
            return Convert.ToInt32(await all.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
        }

        var parameters = new List<(string, object?)>();
        var where = filter.RowConditions(connection, parameters);
        var singles = new List<string>(where) { "a.events IS NULL" };
        if (filter.High is { } high)
        {
            parameters.Add(("@hi", high));
            singles.Add("a.recorded < @hi");
        }

        int total;
        await using (var cmd = Command(connection, "SELECT COUNT(*) FROM gov_audit_event a WHERE " + string.Join(" AND ", singles), [.. parameters]))
        {
            total = Convert.ToInt32(await cmd.ExecuteScalarAsync(ct), CultureInfo.InvariantCulture);
        }

        var astride = new List<string>();
        if (filter.Low is { } low)
        {
            parameters.Add(("@lo_w", low + AuditRows.Spread));
            astride.Add("a.recorded < @lo_w");
        }

        if (filter.High is not null)
        {
            astride.Add("a.recorded >= @hi");
        }

        // A row astride a date bound is read whole; of the others, only the patient lists (when patients are asked for).
        var astrideRow = string.Join(" OR ", astride);
        var json = astride.Count == 0 ? "NULL" : $"CASE WHEN {astrideRow} THEN a.json END";
        var keys = filter.Patients is not null ? "a.patient_keys" : astride.Count == 0 ? "NULL" : $"CASE WHEN {astrideRow} THEN a.patient_keys END";
        await using (var cmd = Command(connection, $"SELECT a.seq, a.id, a.recorded, {keys}, {json}, a.events FROM gov_audit_event a WHERE {string.Join(" AND ", where.Append("a.events IS NOT NULL"))}", [.. parameters]))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                if (!reader.IsDBNull(4))
                {
                    total += AuditRows.Events(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4), (_, t, ps) => filter.Wants(t) && filter.Wants(ps)).Count();
                }
                else
                {
                    total += filter.Patients is null ? reader.GetInt32(5) : AuditRows.PatientLists(reader.GetString(3)).Count(filter.Wants);
                }
            }
        }

        return total;
    }

    /// <summary>
    /// The newest <paramref name="want"/> events the filter wants, older than <paramref name="before"/>. Rows come
    /// newest first (by their newest event) in growing chunks; a batch's events may be older than the next rows' newest, so
    /// they wait in a queue and an event is taken only once no row still to come can hold a newer one.
    /// </summary>
    private static async Task<List<AuditRows.Stored>> PageAsync(DbConnection connection, Filter filter, (long Recorded, long Seq, int Position)? before, int want, CancellationToken ct)
    {
        var parameters = new List<(string, object?)>();
        var where = filter.RowConditions(connection, parameters);
        if (before is { } b)
        {
            parameters.Add(("@bw", b.Recorded + AuditRows.Spread));
            where.Add("a.recorded <= @bw");
        }

        // A batch row may give a page all its events, a patient's search an event a row: a few rows first, then more.
        var chunk = Math.Min(want, 8);
        var waiting = new PriorityQueue<AuditRows.Stored, AuditRows.Stored>(Comparer<AuditRows.Stored>.Create(AuditRows.Stored.NewestFirst));
        var page = new List<AuditRows.Stored>(want);
        (long Recorded, long Seq)? after = null;
        while (true)
        {
            var conditions = after is null ? where : [.. where, "(a.recorded < @ar OR (a.recorded = @ar AND a.seq < @as))"];
            var clause = conditions.Count == 0 ? string.Empty : " WHERE " + string.Join(" AND ", conditions);
            var rows = 0;
            await using (var cmd = Command(connection, $"SELECT a.seq, a.id, a.recorded, a.patient_keys, a.json FROM gov_audit_event a{clause} ORDER BY a.recorded DESC, a.seq DESC LIMIT {chunk}", [.. parameters, .. after is { } a ? new (string, object?)[] { ("@ar", a.Recorded), ("@as", a.Seq) } : []]))
            await using (var reader = await cmd.ExecuteReaderAsync(ct))
            {
                while (await reader.ReadAsync(ct))
                {
                    rows++;
                    var (seq, recorded) = (reader.GetInt64(0), reader.GetInt64(2));
                    after = (recorded, seq);

                    // Every event of this row and of the rows after it is at or before (recorded, seq, any place).
                    while (waiting.TryPeek(out var newest, out _) && AuditRows.Compare(newest.Recorded, newest.Seq, newest.Position, recorded, seq, int.MaxValue) > 0)
                    {
                        page.Add(waiting.Dequeue());
                        if (page.Count == want)
                        {
                            return page;
                        }
                    }

                    foreach (var ev in AuditRows.Events(seq, reader.GetString(1), recorded, reader.GetString(3), reader.GetString(4), (place, t, ps) => filter.Wants(t) && filter.Wants(ps)
                        && (before is not { } p || AuditRows.Compare(t, seq, place, p.Recorded, p.Seq, p.Position) < 0)))
                    {
                        waiting.Enqueue(ev, ev);
                    }
                }
            }

            if (rows < chunk)
            {
                break;
            }

            chunk = Math.Min(chunk * 2, 1000);
        }

        while (page.Count < want && waiting.TryDequeue(out var ev, out _))
        {
            page.Add(ev);
        }

        return page;
    }

    /// <summary>The times a date parameter admits, as [low, high) in milliseconds (either may be open).</summary>
    private static (long? Low, long? High) DateBounds(string value)
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
        return prefix switch
        {
            "ge" => (low, null),
            "gt" => (high, null),
            "le" => (null, high),
            "lt" => (null, low),
            "eq" => (low, high),
            _ => throw FhirException.BadRequest($"date takes the prefixes eq, ge, gt, le and lt, not '{prefix}'.", "date"),
        };
    }

    private static DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters) =>
        FhirStore.Command(connection, sql, parameters);
}
