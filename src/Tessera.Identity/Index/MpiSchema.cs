using Tessera.RecordStore.Machinery;

namespace Tessera.Identity.Index;

/// <summary>The index's own tables (part "identity"): the feed cursor, each source record's place, decisions and merges.</summary>
internal static class MpiSchema
{
    public const string Part = "identity";

    private const string V1 = """
        CREATE TABLE mpi_feed (name {text} PRIMARY KEY, seq {big} NOT NULL, generation {big} NOT NULL);
        INSERT INTO mpi_feed (name, seq, generation) VALUES ('patients', 0, 0);
        CREATE TABLE mpi_gap (seq {big} PRIMARY KEY, horizon {big} NOT NULL, seen_at {big} NOT NULL);
        CREATE TABLE mpi_source (
            patient_id {text} PRIMARY KEY, version {big} NOT NULL, generation {big} NOT NULL, source {text} NOT NULL,
            nhs {text}, nhs_status {text} NOT NULL, person {text}, master_id {text}, link_kind {text}, score {real},
            retired {big} NOT NULL DEFAULT 0, quarantined {big} NOT NULL DEFAULT 0, deleted {big} NOT NULL DEFAULT 0);
        CREATE INDEX ix_mpi_source_master ON mpi_source (master_id);
        CREATE INDEX ix_mpi_source_generation ON mpi_source (generation);
        CREATE TABLE mpi_model (id {text} PRIMARY KEY, created {big} NOT NULL, json {text} NOT NULL);
        CREATE TABLE mpi_exclusion (patient_a {text} NOT NULL, patient_b {text} NOT NULL, task_id {text}, PRIMARY KEY (patient_a, patient_b));
        CREATE TABLE mpi_review (task_id {text} PRIMARY KEY, patient_id {text} NOT NULL, master_id {text} NOT NULL, candidate_id {text} NOT NULL, status {text} NOT NULL, score {real} NOT NULL, created {big} NOT NULL);
        CREATE INDEX ix_mpi_review_pair ON mpi_review (patient_id, master_id);
        CREATE TABLE mpi_merge (
            id {text} PRIMARY KEY, kind {text} NOT NULL, source_id {text} NOT NULL, target_id {text} NOT NULL, source_master {text} NOT NULL,
            target_master {text} NOT NULL, moved {text} NOT NULL, provenance_id {text}, undone {big} NOT NULL DEFAULT 0, created {big} NOT NULL);
        CREATE INDEX ix_mpi_merge_source ON mpi_merge (source_id);
        """;

    public static readonly IReadOnlyList<PartMigration> Steps =
    [
        new(Dialect(V1, "TEXT", "INTEGER", "REAL"), Dialect(V1, "text", "bigint", "double precision")),
    ];

    private static string Dialect(string sql, string text, string big, string real) =>
        sql.Replace("{text}", text, StringComparison.Ordinal).Replace("{big}", big, StringComparison.Ordinal).Replace("{real}", real, StringComparison.Ordinal);
}
