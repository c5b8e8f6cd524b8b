using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Tessera.RecordStore.Machinery;

namespace Tessera.Governance.Policy;

/// <summary>
/// What this process knows of changes to the governance index (care relationships, consent rules, person links) since
/// it last looked, per patient: the signal that lets a patient's test answers be kept (<see cref="PatientAnswers"/>).
/// <para>
/// On PostgreSQL, triggers on the index's tables send the patient keys of every committed change on the channel
/// <see cref="Storage.ChangeListener.Channel"/>, whichever process made it; <see cref="Storage.ChangeListener"/> hears
/// them and marks those patients changed. While nothing listens (SQLite, or the listening connection is lost) nothing
/// is trusted: <see cref="Watching"/> is false, and on losing or regaining the connection everything counts as changed.
/// A transaction of this process that writes the index marks everything changed as it ends, before its interaction
/// answers: what a caller wrote, it and every caller of this process see at once, without waiting for the signal.
/// </para>
/// </summary>
internal sealed class GovernanceChanges
{
    /// <summary>Patients share change counters by hash: a change to one also drops the kept answers of about one in four thousand others.</summary>
    private const int Stripes = 4096;

    private readonly long[] _stripes = new long[Stripes];
    private long _epoch;
    private long _signals;
    private volatile bool _watching;

    /// <summary>A point in the changes, taken before answers are read from the database.</summary>
    public readonly record struct Stamp(long Epoch, long Stripe);

    /// <summary>Whether changes are being heard, so that answers kept since a <see cref="Stamp"/> can be trusted.</summary>
    public bool Watching => _watching;

    /// <summary>How many change signals have been applied (for tests that wait for one).</summary>
    public long Signals => Volatile.Read(ref _signals);

    public Stamp Take(string patientKey) => new(Volatile.Read(ref _epoch), Volatile.Read(ref _stripes[Index(patientKey)]));

    /// <summary>Whether nothing of <paramref name="patientKey"/> can have changed since <paramref name="stamp"/> was taken.</summary>
    public bool Holds(Stamp stamp, string patientKey) =>
        _watching && Volatile.Read(ref _epoch) == stamp.Epoch && Volatile.Read(ref _stripes[Index(patientKey)]) == stamp.Stripe;

    public void Changed(string patientKey) => Interlocked.Increment(ref _stripes[Index(patientKey)]);

    public void ChangedAll() => Interlocked.Increment(ref _epoch);

    /// <summary>Applies a signal's payload: patient keys separated by spaces, or "*" for every patient.</summary>
    public void Apply(string payload)
    {
        if (payload == "*")
        {
            ChangedAll();
        }
        else
        {
            foreach (var key in payload.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                Changed(key);
            }
        }

        _lastSignal = payload;
        Interlocked.Increment(ref _signals);
    }

    private volatile string? _lastSignal;

    /// <summary>The payload of the signal last applied (for tests, which send a marker after a change and wait for it).</summary>
    public string? LastSignal => _lastSignal;

    /// <summary>
    /// Starts trusting kept answers (the listener is listening: every later change will be heard) or stops (it is not).
    /// Either way what was kept before is dropped: changes may have gone unheard.
    /// </summary>
    public void Watch(bool watching)
    {
        if (watching)
        {
            ChangedAll();
            _watching = true;
        }
        else
        {
            _watching = false;
            ChangedAll();
        }
    }

    /// <summary>Called by a writer of the index: once <paramref name="transaction"/> ends, everything counts as changed.</summary>
    public void WrittenBy(StoreTransaction transaction) => transaction.AfterEnd("gov-changes", ChangedAll);

    private static int Index(string patientKey) => (int)((uint)StringComparer.Ordinal.GetHashCode(patientKey) % Stripes);
}

/// <summary>
/// The answers of a caller's tests of one patient (care relationship, consent rules, break-glass grant), kept so that
/// the caller's next searches of that patient send no tests to the database. An answer is used only while the
/// patient's index is unchanged (<see cref="GovernanceChanges"/>) and until the earliest expiry among the patient's
/// relationships and consent rules: the tests compare those with the time, and nothing else in them depends on it.
/// </summary>
internal sealed class PatientAnswers(GovernanceChanges changes)
{
    /// <summary>How many answers are kept, for all callers together; beyond it they start again (about 100 bytes each).</summary>
    private const int MaxEntries = 100_000;

    /// <summary>Until when a patient's answers hold: the earliest expiry after now of their relationships and consent rules.</summary>
    public const string Horizon =
        "SELECT min(h.e) FROM (SELECT min(g.expires) AS e FROM gov_relationship g WHERE g.patient_key = @" + AccessSql.PatientParameter + " AND g.expires > @" + AccessSql.NowParameter
        + " UNION ALL SELECT min(c.expires) FROM gov_consent_rule c WHERE c.patient_key = @" + AccessSql.PatientParameter + " AND c.expires > @" + AccessSql.NowParameter + ") h";

    private readonly ConcurrentDictionary<Key, Entry> _entries = new();

    private long _used;
    private long _added;

    public GovernanceChanges Changes => changes;

    /// <summary>How many times kept answers have been used (for tests).</summary>
    public long Used => Volatile.Read(ref _used);

    /// <summary>Whether answers can be kept at all now (changes are heard).</summary>
    public bool Usable => changes.Watching;

    public bool TryGet(object filter, object tests, string patientKey, long now, out bool[] answers)
    {
        if (_entries.TryGetValue(new Key(filter, tests, patientKey), out var entry) && now < entry.Until && changes.Holds(entry.Stamp, patientKey))
        {
            Interlocked.Increment(ref _used);
            answers = entry.Answers;
            return true;
        }

        answers = [];
        return false;
    }

    /// <summary>Keeps answers read after <paramref name="stamp"/> was taken, to hold until <paramref name="until"/> (milliseconds since the epoch).</summary>
    public void Remember(object filter, object tests, string patientKey, bool[] answers, GovernanceChanges.Stamp stamp, long until)
    {
        // Counted as they are added (replacements too): ConcurrentDictionary.Count takes every one of its locks.
        if (Interlocked.Increment(ref _added) > MaxEntries)
        {
            _entries.Clear();
            Interlocked.Exchange(ref _added, 0);
        }

        _entries[new Key(filter, tests, patientKey)] = new Entry(answers, stamp, until);
    }

    private sealed record Entry(bool[] Answers, GovernanceChanges.Stamp Stamp, long Until);

    /// <summary>A caller's filter and a list of its tests (both by identity: see <see cref="PredicateForm.TestsId"/>) and the patient.</summary>
    private readonly struct Key(object filter, object tests, string patient) : IEquatable<Key>
    {
        private readonly object _filter = filter;
        private readonly object _tests = tests;
        private readonly string _patient = patient;

        public bool Equals(Key other) => ReferenceEquals(_filter, other._filter) && ReferenceEquals(_tests, other._tests) && _patient == other._patient;

        public override bool Equals(object? obj) => obj is Key other && Equals(other);

        public override int GetHashCode() => HashCode.Combine(RuntimeHelpers.GetHashCode(_filter), RuntimeHelpers.GetHashCode(_tests), _patient);
    }
}
