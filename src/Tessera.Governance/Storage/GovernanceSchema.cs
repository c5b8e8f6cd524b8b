using Tessera.RecordStore.Machinery;

namespace Tessera.Governance.Storage;

/// <summary>
/// Governance's own tables. Relationships, person links and consent rules are an index kept from the FHIR
/// resources as they are written (rebuilt from them when missing); the audit trail is the record itself.
/// </summary>
internal static class GovernanceSchema
{
    private static string Tables(string big) => $"""
        CREATE TABLE gov_relationship (patient_key TEXT NOT NULL, party TEXT NOT NULL, basis TEXT NOT NULL, source_type TEXT NOT NULL, source_id TEXT NOT NULL, expires {big});
        CREATE INDEX ix_gov_relationship_party ON gov_relationship (party, patient_key);
        CREATE INDEX ix_gov_relationship_source ON gov_relationship (source_type, source_id);
        CREATE TABLE gov_person_link (person_key TEXT NOT NULL, patient_key TEXT NOT NULL);
        CREATE INDEX ix_gov_person_link_patient ON gov_person_link (patient_key, person_key);
        CREATE INDEX ix_gov_person_link_person ON gov_person_link (person_key, patient_key);
        CREATE TABLE gov_consent_rule (consent_id TEXT NOT NULL, patient_key TEXT NOT NULL, org TEXT, label TEXT, expires {big});
        CREATE INDEX ix_gov_consent_rule_patient ON gov_consent_rule (patient_key);
        CREATE INDEX ix_gov_consent_rule_consent ON gov_consent_rule (consent_id);
        CREATE TABLE gov_audit (n {big} PRIMARY KEY, id TEXT NOT NULL, recorded {big} NOT NULL, patient_keys TEXT NOT NULL, json TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
        CREATE UNIQUE INDEX ix_gov_audit_id ON gov_audit (id);
        CREATE TABLE gov_audit_patient (patient_key TEXT NOT NULL, n {big} NOT NULL);
        CREATE INDEX ix_gov_audit_patient ON gov_audit_patient (patient_key, n);
        CREATE TABLE gov_audit_head (one INTEGER PRIMARY KEY, n {big} NOT NULL, hash TEXT NOT NULL);
        CREATE TABLE gov_state (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        """;

    /// <summary>
    /// Step 2 separates the audit's events from their chain: writers append events (and queue them in
    /// gov_audit_pending) without a lock; the chainer links them in order into gov_audit_chain. Rows of step 1 keep
    /// their positions and hashes (the hash is computed the same way).
    /// </summary>
    private static string SplitAuditChain(string key, string big, string tail) => $"""
        CREATE TABLE gov_audit_event (seq {key}, id TEXT NOT NULL, recorded {big} NOT NULL, patient_keys TEXT NOT NULL, json TEXT NOT NULL);
        INSERT INTO gov_audit_event (seq, id, recorded, patient_keys, json) SELECT n, id, recorded, patient_keys, json FROM gov_audit;
        CREATE UNIQUE INDEX ix_gov_audit_event_id ON gov_audit_event (id);
        CREATE INDEX ix_gov_audit_event_recorded ON gov_audit_event (recorded);
        CREATE TABLE gov_audit_chain (n {big} PRIMARY KEY, seq {big} NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
        INSERT INTO gov_audit_chain (n, seq, prev_hash, hash) SELECT n, n, prev_hash, hash FROM gov_audit;
        CREATE UNIQUE INDEX ix_gov_audit_chain_seq ON gov_audit_chain (seq);
        CREATE TABLE gov_audit_subject (patient_key TEXT NOT NULL, seq {big} NOT NULL);
        INSERT INTO gov_audit_subject (patient_key, seq) SELECT patient_key, n FROM gov_audit_patient;
        CREATE INDEX ix_gov_audit_subject ON gov_audit_subject (patient_key, seq);
        CREATE TABLE gov_audit_pending (seq {big} PRIMARY KEY);
        DROP TABLE gov_audit_patient;
        DROP TABLE gov_audit;
        {tail}
        """;

    /// <summary>
    /// Step 3 keeps the security labels of every version (<c>gov_version_label</c>), so that consent rules on
    /// sensitive categories decide an older version by its own labels; the labels of versions already stored are
    /// read from their JSON.
    /// </summary>
    private const string VersionLabelTable = """
        CREATE TABLE gov_version_label (resource_type TEXT NOT NULL, id TEXT NOT NULL, version {0} NOT NULL, label TEXT NOT NULL);
        CREATE INDEX ix_gov_version_label ON gov_version_label (resource_type, id, label, version);
        """;

    private static readonly string SqliteVersionLabels = string.Format(System.Globalization.CultureInfo.InvariantCulture, VersionLabelTable, "INTEGER") + """
        INSERT INTO gov_version_label (resource_type, id, version, label)
        SELECT DISTINCT v.resource_type, v.id, v.version, json_extract(s.value, '$.code') FROM resource_version v, json_each(v.json, '$.meta.security') s
        WHERE v.json LIKE '%"security"%' AND json_extract(s.value, '$.code') IS NOT NULL;
        """;

    private static readonly string PostgresVersionLabels = string.Format(System.Globalization.CultureInfo.InvariantCulture, VersionLabelTable, "bigint") + """
        INSERT INTO gov_version_label (resource_type, id, version, label)
        SELECT DISTINCT v.resource_type, v.id, v.version, s ->> 'code' FROM resource_version v,
            jsonb_array_elements(CASE WHEN jsonb_typeof(CAST(v.json AS jsonb) -> 'meta' -> 'security') = 'array' THEN CAST(v.json AS jsonb) -> 'meta' -> 'security' ELSE CAST('[]' AS jsonb) END) AS s
        WHERE v.json LIKE '%"security"%' AND s ->> 'code' IS NOT NULL;
        """;

    /// <summary>
    /// Step 4 copies each care relationship and consent rule of a record to the other records of the same person
    /// (<c>via</c> names the record the row was copied from), so that the access filter tests a row's own patient
    /// key instead of joining the person links on every probe (see <see cref="Relationships.RelationshipIndex"/>).
    /// </summary>
    private static readonly string PersonCopies = $"""
        ALTER TABLE gov_relationship ADD COLUMN via TEXT;
        ALTER TABLE gov_consent_rule ADD COLUMN via TEXT;
        CREATE INDEX ix_gov_relationship_patient ON gov_relationship (patient_key);
        CREATE INDEX ix_gov_relationship_via ON gov_relationship (via) WHERE via IS NOT NULL;
        CREATE INDEX ix_gov_consent_rule_via ON gov_consent_rule (via) WHERE via IS NOT NULL;
        {Relationships.RelationshipIndex.CopyRelationships("1 = 1")};
        {Relationships.RelationshipIndex.CopyConsentRules("1 = 1")};
        """;

    /// <summary>
    /// Step 5, on PostgreSQL: the trail's patient index becomes a GIN index on each event's own patient list, and the
    /// table of patient rows goes (see <see cref="Audit.AuditSubjects"/>). SQLite keeps its table.
    /// </summary>
    private const string PatientListIndex = """
        CREATE INDEX ix_gov_audit_event_patients ON gov_audit_event USING gin (string_to_array(patient_keys, ' '));
        DROP TABLE gov_audit_subject;
        """;

    /// <summary>
    /// Step 6: a row of the trail may hold a batch of reads' events (see <see cref="Audit.AuditRows"/>); <c>events</c>
    /// says how many (empty for a row of one event, as every row before this step is). Existing rows and their hashes
    /// are unchanged.
    /// </summary>
    private const string BatchRows = "ALTER TABLE gov_audit_event ADD COLUMN events INTEGER;";

    /// <summary>
    /// Step 7 (PostgreSQL): the trail's JSON is compressed with LZ4 where the server has it (PostgreSQL 14 or later,
    /// built with it, as Debian's is). A batch row of a group commit of searches holds about 40 kB of JSON, and
    /// compressing it with the default (pglz) was about half of appending a search's event (34 µs an event against
    /// 18 µs with LZ4). Rows already stored keep their compression.
    /// </summary>
    private const string AuditCompression = """
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
                EXECUTE 'ALTER TABLE gov_audit_event ALTER COLUMN json SET COMPRESSION lz4';
            END IF;
        END
        $$;
        """;

    /// <summary>
    /// Step 8 (PostgreSQL): a row of the trail stays whole in its table page when its compressed JSON fits one (up to
    /// about 8 kB, where PostgreSQL's default moves anything over 2 kB out to the TOAST table in 2 kB pieces, each a
    /// row of the TOAST table and an entry of its index). A batch row of searches' events, 30–40 kB of JSON, compresses
    /// to 6–9 kB, so about half of them fit: two 30 kB rows took about 940 µs to append moved out, and 650 µs kept
    /// whole. Rows already stored stay where they are.
    /// </summary>
    private const string AuditRowsInline = "ALTER TABLE gov_audit_event SET (toast_tuple_target = 8160);";

    /// <summary>
    /// Step 9 (PostgreSQL): every committed change to the index's tables signals the patient keys it touched on the
    /// channel <see cref="ChangeListener.Channel"/> (space-separated; "*" when they are too many for one signal), so
    /// that each Tessera process can drop the test answers it keeps for those patients (<see cref="Policy.PatientAnswers"/>).
    /// The triggers run once per statement, over the rows it changed; PostgreSQL delivers the signal when, and only
    /// if, the transaction commits. A change to a person's links signals every record of that person.
    /// </summary>
    private const string ChangeSignals = """
        CREATE FUNCTION gov_signal(keys text) RETURNS void LANGUAGE sql AS $$
            SELECT pg_notify('tessera_gov', CASE WHEN length(keys) > 7000 THEN '*' ELSE keys END) WHERE keys IS NOT NULL;
        $$;
        CREATE FUNCTION gov_signal_rows() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM gov_signal((SELECT string_agg(DISTINCT patient_key, ' ') FROM gov_new));
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM gov_signal((SELECT string_agg(DISTINCT patient_key, ' ') FROM gov_old));
            ELSE
                PERFORM gov_signal((SELECT string_agg(DISTINCT k, ' ') FROM (SELECT patient_key AS k FROM gov_old UNION SELECT patient_key FROM gov_new) u));
            END IF;
            RETURN NULL;
        END
        $$;
        CREATE FUNCTION gov_signal_links() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                PERFORM gov_signal((SELECT string_agg(DISTINCT k, ' ') FROM (SELECT patient_key AS k FROM gov_new UNION SELECT l.patient_key FROM gov_person_link l WHERE l.person_key IN (SELECT person_key FROM gov_new)) u));
            ELSIF TG_OP = 'DELETE' THEN
                PERFORM gov_signal((SELECT string_agg(DISTINCT k, ' ') FROM (SELECT patient_key AS k FROM gov_old UNION SELECT l.patient_key FROM gov_person_link l WHERE l.person_key IN (SELECT person_key FROM gov_old)) u));
            ELSE
                PERFORM gov_signal((SELECT string_agg(DISTINCT k, ' ') FROM (SELECT patient_key AS k FROM gov_old UNION SELECT patient_key FROM gov_new
                    UNION SELECT l.patient_key FROM gov_person_link l WHERE l.person_key IN (SELECT person_key FROM gov_old UNION SELECT person_key FROM gov_new)) u));
            END IF;
            RETURN NULL;
        END
        $$;
        CREATE FUNCTION gov_signal_all() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM gov_signal('*');
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER gov_relationship_inserted AFTER INSERT ON gov_relationship REFERENCING NEW TABLE AS gov_new FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_rows();
        CREATE TRIGGER gov_relationship_updated AFTER UPDATE ON gov_relationship REFERENCING OLD TABLE AS gov_old NEW TABLE AS gov_new FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_rows();
        CREATE TRIGGER gov_relationship_deleted AFTER DELETE ON gov_relationship REFERENCING OLD TABLE AS gov_old FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_rows();
        CREATE TRIGGER gov_relationship_truncated AFTER TRUNCATE ON gov_relationship FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_all();
        CREATE TRIGGER gov_consent_rule_inserted AFTER INSERT ON gov_consent_rule REFERENCING NEW TABLE AS gov_new FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_rows();
        CREATE TRIGGER gov_consent_rule_updated AFTER UPDATE ON gov_consent_rule REFERENCING OLD TABLE AS gov_old NEW TABLE AS gov_new FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_rows();
        CREATE TRIGGER gov_consent_rule_deleted AFTER DELETE ON gov_consent_rule REFERENCING OLD TABLE AS gov_old FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_rows();
        CREATE TRIGGER gov_consent_rule_truncated AFTER TRUNCATE ON gov_consent_rule FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_all();
        CREATE TRIGGER gov_person_link_inserted AFTER INSERT ON gov_person_link REFERENCING NEW TABLE AS gov_new FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_links();
        CREATE TRIGGER gov_person_link_updated AFTER UPDATE ON gov_person_link REFERENCING OLD TABLE AS gov_old NEW TABLE AS gov_new FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_links();
        CREATE TRIGGER gov_person_link_deleted AFTER DELETE ON gov_person_link REFERENCING OLD TABLE AS gov_old FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_links();
        CREATE TRIGGER gov_person_link_truncated AFTER TRUNCATE ON gov_person_link FOR EACH STATEMENT EXECUTE FUNCTION gov_signal_all();
        """;

    public static readonly IReadOnlyList<PartMigration> Steps =
    [
        new(Tables("INTEGER"), Tables("bigint")),
        new(
            SplitAuditChain("INTEGER PRIMARY KEY AUTOINCREMENT", "INTEGER", string.Empty),
            SplitAuditChain("bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "bigint", "SELECT setval(pg_get_serial_sequence('gov_audit_event', 'seq'), COALESCE((SELECT max(seq) FROM gov_audit_event), 0) + 1, false);")),
        new(SqliteVersionLabels, PostgresVersionLabels),
        new(PersonCopies, PersonCopies),
        new("SELECT 1;", PatientListIndex),
        new(BatchRows, BatchRows),
        new("SELECT 1;", AuditCompression),
        new("SELECT 1;", AuditRowsInline),
        new("SELECT 1;", ChangeSignals),
    ];
}
