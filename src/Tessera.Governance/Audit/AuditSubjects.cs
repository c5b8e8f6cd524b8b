using System.Data.Common;

namespace Tessera.Governance.Audit;

/// <summary>
/// Which audit rows concern a patient (a batch row concerns every patient of its events; readers then pick out the
/// events in it that concern them, see <see cref="AuditRows"/>). On PostgreSQL the rows' own patient list is indexed (a GIN index on
/// <c>string_to_array(patient_keys, ' ')</c>): the index is derived from the column the hash chain covers, so it
/// cannot disagree with it, and appending an event adds an entry to the index's pending list instead of a row of its
/// own at a random place in a B-tree (the patient table cost about a quarter of appending a read's event). SQLite has
/// no such index and keeps one <c>gov_audit_subject</c> row per row and patient.
/// </summary>
internal static class AuditSubjects
{
    /// <summary>Whether <paramref name="connection"/>'s database indexes events by their own patient list.</summary>
    public static bool IndexedInPlace(DbConnection connection) => connection is Npgsql.NpgsqlConnection;

    /// <summary>A condition on an event row <paramref name="alias"/> that it concerns one of the patients named by <paramref name="parameters"/> ("@name" each).</summary>
    public static string ConcernsAny(DbConnection connection, string alias, IReadOnlyCollection<string> parameters) =>
        IndexedInPlace(connection)
            ? $"string_to_array({alias}.patient_keys, ' ') && CAST(ARRAY[{string.Join(", ", parameters)}] AS text[])"
            : $"{alias}.seq IN (SELECT ap.seq FROM gov_audit_subject ap WHERE ap.patient_key IN ({string.Join(", ", parameters)}))";
}
