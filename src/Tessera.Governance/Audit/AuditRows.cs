using System.Globalization;
using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;

namespace Tessera.Governance.Audit;

/// <summary>
/// How events are laid out in rows of <c>gov_audit_event</c>. A row holds one event (a write's, a sign-in, a
/// break-glass, every row written before batches) or a batch: the events of reads that one group commit appended,
/// up to <see cref="MaxEvents"/> of them, sharing one row and one chain link.
/// <para>
/// A batch row's <c>json</c> is a JSON array, one element per event in order, <c>{"t":time,"c":record}</c> (the
/// compact <see cref="InteractionRecord"/> as it is); its <c>patient_keys</c> lists each event's patients in the same
/// order, the events' lists separated by <see cref="EventSeparator"/> (so the patient index, built on the words of
/// that column, finds the row under every patient of every event in it); <c>recorded</c> is the time of its newest
/// event, and no event in it is more than <see cref="Spread"/> older; <c>events</c> is how many events it holds
/// (empty for a row of one event). The row's hash covers its id, time, patient lists and JSON, so every event in it
/// (id, time, patients, content) and their order. The events of a batch are <c>AuditEvent/[row id].[position]</c>.
/// </para>
/// </summary>
internal static class AuditRows
{
    /// <summary>The most events a batch row holds: enough to make the row's own cost small per event, few enough that
    /// reading one event of it (by id, or a patient's among others') stays cheap.</summary>
    public const int MaxEvents = 100;

    /// <summary>
    /// The most characters of JSON a batch row holds (besides one event that alone is longer): a longer text would be
    /// a large object to .NET (85,000 bytes and more), whose every allocation counts towards a full collection.
    /// </summary>
    public const int MaxBatchChars = 40_000;

    /// <summary>How much older than a batch's newest event its oldest may be: searches find a batch row by its newest
    /// time and know its events are no older than this (events waiting longer, e.g. kept while the database was away,
    /// go in a row of their own).</summary>
    public const long Spread = 1000;

    /// <summary>Separates the events' patient lists in a batch row's <c>patient_keys</c> (a patient key has no space).</summary>
    public const string EventSeparator = " | ";

    /// <summary>A row to append: its id, time, patients, content, and how many events it holds when it is a batch.</summary>
    public sealed record Row(string Id, long Recorded, string Patients, string Json, int? Events);

    /// <summary>One event as stored: the row it is in (<paramref name="Seq"/>) and its place there, its id, time, patients (space separated) and content.</summary>
    public sealed record Stored(long Seq, int Position, string Id, long Recorded, string Patients, string Content)
    {
        /// <summary>Whether this event concerns any of <paramref name="keys"/>.</summary>
        public bool Concerns(IReadOnlySet<string> keys) => AuditRows.Concerns(Patients, keys);

        public AuditEvent Restore()
        {
            var ev = AuditEvents.Restore(Id, Recorded, Patients, Content);
            ev.Id = Id;
            return ev;
        }

        /// <summary>Newest first: by time, then row, then place in the row, all descending.</summary>
        public static int NewestFirst(Stored a, Stored b) => Compare(b.Recorded, b.Seq, b.Position, a.Recorded, a.Seq, a.Position);
    }

    /// <summary>Whether an event's patient list (space separated) names any of <paramref name="keys"/>.</summary>
    public static bool Concerns(string patients, IReadOnlySet<string> keys) =>
        patients.Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(keys.Contains);

    /// <summary>Orders positions (time, row, place) ascending.</summary>
    public static int Compare(long t1, long s1, int p1, long t2, long s2, int p2) =>
        t1 != t2 ? t1.CompareTo(t2) : s1 != s2 ? s1.CompareTo(s2) : p1.CompareTo(p2);

    /// <summary>Whether a row's stored text is a batch (a JSON array) rather than one event (a JSON object).</summary>
    public static bool IsBatch(string json) => json.Length > 0 && json[0] == '[';

    /// <summary>The id of a batch's event: the row's id and the event's place in it.</summary>
    public static string EventId(string rowId, int position) => rowId + "." + position.ToString(CultureInfo.InvariantCulture);

    /// <summary>The batch row and place an event id names, when it has that form.</summary>
    public static bool TrySplitId(string id, out string rowId, out int position)
    {
        var dot = id.LastIndexOf('.');
        if (dot > 0 && int.TryParse(id.AsSpan(dot + 1), NumberStyles.None, CultureInfo.InvariantCulture, out position)
            && EventId(id[..dot], position) == id)
        {
            rowId = id[..dot];
            return true;
        }

        (rowId, position) = (string.Empty, 0);
        return false;
    }

    /// <summary>
    /// Lays out events in rows: those that can share a row (compact interaction records whose patient keys are
    /// single words) in batches by time, each of at most <see cref="MaxEvents"/> events spanning at most
    /// <see cref="Spread"/>; any other event, and a batch that would hold one event, in a row of its own.
    /// </summary>
    public static List<Row> Pack(IReadOnlyList<AuditEvents.Entry> entries)
    {
        var rows = new List<Row>();
        var shared = new List<AuditEvents.Entry>(entries.Count);
        foreach (var entry in entries)
        {
            if (CanShare(entry))
            {
                shared.Add(entry);
            }
            else
            {
                rows.Add(Single(entry));
            }
        }

        // Reads are concurrent, so their events have no order of their own but their times: a stable sort keeps
        // each batch's span short and makes places in a row follow time.
        var sorted = shared.OrderBy(e => e.Recorded).ToList();
        var start = 0;
        var chars = sorted.Count > 0 ? BatchChars(sorted[0]) : 0;
        for (var i = 1; i <= sorted.Count; i++)
        {
            var next = i < sorted.Count ? BatchChars(sorted[i]) : 0;
            if (i == sorted.Count || i - start == MaxEvents || sorted[i].Recorded - sorted[start].Recorded > Spread || chars + next > MaxBatchChars)
            {
                rows.Add(i - start == 1 ? Single(sorted[start]) : Batch(sorted, start, i - start, chars));
                (start, chars) = (i, 0);
            }

            chars += next;
        }

        return rows;
    }

    private const string TimeKey = "{\"t\":";
    private const string ContentKey = ",\"c\":";

    /// <summary>The characters an event takes in a batch row's JSON: its element and the comma before it.</summary>
    private static int BatchChars(AuditEvents.Entry entry) =>
        1 + TimeKey.Length + Digits(entry.Recorded) + ContentKey.Length + entry.Content.Length + 1;

    private static int Digits(long value)
    {
        Span<char> digits = stackalloc char[20];
        value.TryFormat(digits, out var written, provider: CultureInfo.InvariantCulture);
        return written;
    }

    private static Row Single(AuditEvents.Entry entry) => new(entry.Id, entry.Recorded, string.Join(' ', entry.Patients), entry.Content, null);

    /// <summary>A batch row of <paramref name="count"/> events from <paramref name="start"/>, whose elements take <paramref name="chars"/> characters.</summary>
    private static Row Batch(List<AuditEvents.Entry> sorted, int start, int count, int chars)
    {
        // The JSON is written once into a pooled buffer and copied once into its string: built up in a StringBuilder
        // it was copied as the builder grew, and again when it became a string.
        var buffer = System.Buffers.ArrayPool<char>.Shared.Rent(chars + 1);
        var patients = new StringBuilder(count * 16);
        try
        {
            var json = buffer.AsSpan();
            json[0] = '[';
            var at = 1;
            for (var i = start; i < start + count; i++)
            {
                var entry = sorted[i];
                if (i > start)
                {
                    json[at++] = ',';
                    patients.Append(EventSeparator);
                }

                at += Write(json[at..], TimeKey);
                entry.Recorded.TryFormat(json[at..], out var written, provider: CultureInfo.InvariantCulture);
                at += written;
                at += Write(json[at..], ContentKey);
                at += Write(json[at..], entry.Content);
                json[at++] = '}';
                patients.AppendJoin(' ', entry.Patients);
            }

            json[at++] = ']';
            var newest = sorted[start + count - 1].Recorded;
            var id = Guid.CreateVersion7(DateTimeOffset.FromUnixTimeMilliseconds(newest)).ToString();
            return new Row(id, newest, patients.ToString(), new string(json[..at]), count);
        }
        finally
        {
            System.Buffers.ArrayPool<char>.Shared.Return(buffer);
        }
    }

    private static int Write(Span<char> to, string text)
    {
        text.CopyTo(to);
        return text.Length;
    }

    /// <summary>
    /// Whether an event can share a row: its content is a compact record (a FHIR AuditEvent's JSON carries its own
    /// id), and each patient key is a word, so that the events' lists can be told apart.
    /// </summary>
    private static bool CanShare(AuditEvents.Entry entry) =>
        entry.Content.StartsWith(InteractionRecord.Marker, StringComparison.Ordinal)
        && entry.Patients.All(p => p.Length > 0 && p != "|" && !p.Contains(' ', StringComparison.Ordinal));

    /// <summary>The patient lists of a batch row's events, in order (each space separated).</summary>
    public static string[] PatientLists(string patientKeys) => patientKeys.Split(EventSeparator);

    /// <summary>Every patient a row names, once each: the words of its patient column (but a batch's separators).</summary>
    public static IEnumerable<string> PatientsOf(string patientKeys, bool batch) =>
        patientKeys.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(p => !batch || p != "|").Distinct(StringComparer.Ordinal);

    /// <summary>
    /// The events of a row: the row's own event, or each of a batch's; only those that <paramref name="keep"/> (given
    /// an event's place, time and patients) wants, when it is given.
    /// </summary>
    public static IEnumerable<Stored> Events(long seq, string id, long recorded, string patients, string json, Func<int, long, string, bool>? keep = null)
    {
        if (!IsBatch(json))
        {
            return keep is null || keep(0, recorded, patients) ? [new Stored(seq, 0, id, recorded, patients, json)] : [];
        }

        var lists = PatientLists(patients);
        using var doc = JsonDocument.Parse(json);
        var length = doc.RootElement.GetArrayLength();
        if (length != lists.Length)
        {
            throw new InvalidOperationException($"The audit row {id} lists {lists.Length} events' patients for {length} events: it was altered (run tessera audit verify).");
        }

        var events = new List<Stored>();
        var position = 0;
        foreach (var element in doc.RootElement.EnumerateArray())
        {
            var time = element.GetProperty("t").GetInt64();
            if (keep is null || keep(position, time, lists[position]))
            {
                events.Add(new Stored(seq, position, EventId(id, position), time, lists[position], element.GetProperty("c").GetRawText()));
            }

            position++;
        }

        return events;
    }
}
