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

    public static readonly IReadOnlyList<PartMigration> Steps = [new(Tables("INTEGER"), Tables("bigint"))];
}
