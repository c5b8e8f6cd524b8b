-- The database's share of one FHIR create, without Tessera: a pgbench script that sends what PostgreSQL receives for
-- one `POST Observation` of the store benchmark (an Observation with a category, a LOINC code, a subject, a time and
-- a quantity value) — its audit event, its current row, its version row with the JSON, its 11 search index rows
-- (4 token, 4 quantity, 2 reference, 1 date, as Tessera writes them) — and the commit, all in one round trip, as Tessera sends them.
-- One client's rate here is the most creates a second that any server in front of this database could reach from
-- one client: it has no HTTP, no JSON parsing and no index extraction in it.
--
-- It writes rows that are not whole resources (their JSON does not match their ids) and audit events outside the
-- hash chain, so run it ONLY on a copy of a Tessera database, and drop the copy afterwards:
--
--   psql -c "CREATE DATABASE create_floor TEMPLATE <tessera database>"    (no connections to the template meanwhile)
--   pgbench -n -M prepared -c 1 -T 30 -f bench/Tessera.Bench.Store/create-floor.sql create_floor
--   psql -c "DROP DATABASE create_floor"
--
-- `-M prepared` and the pipeline need PostgreSQL 14's pgbench or later. Figures: bench/README.md.
\set r random(1, 9000000000000000)
\set p random(0, 9999)
\set v random(40, 119)
\startpipeline
BEGIN;
INSERT INTO gov_audit_event (id, recorded, patient_keys, json) VALUES ('floor-' || :client_id || '-' || :r, 1796572582141, 'floor-p' || :p, '{"v":1,"agent":{"sub":"bench","role":"system","client":"bench"},"address":"127.0.0.1","purpose":"HOPERAT","subtype":"create","action":"C","status":201,"resources":["Observation/floor-' || :client_id || '-' || :r || '/_history/1"]}');
INSERT INTO resource (resource_type, id, version, last_updated, deleted, patient_key) VALUES ('Observation', 'floor-' || :client_id || '-' || :r, 1, 1796572582141, 0, 'floor-p' || :p);
INSERT INTO resource_version (resource_type, id, version, last_updated, deleted, method, patient_key, json) VALUES ('Observation', 'floor-' || :client_id || '-' || :r, 1, 1796572582141, 0, 'POST', 'floor-p' || :p, '{"resourceType":"Observation","id":"floor","meta":{"versionId":"1","lastUpdated":"2026-12-06T16:12:38.437+00:00"},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}],"text":"Heart rate"},"subject":{"reference":"Patient/floor-p' || :p || '"},"effectiveDateTime":"2024-06-15T09:05:00Z","valueQuantity":{"value":' || :v || ',"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}');
INSERT INTO idx_token (resource_type, id, patient_key, param, system, code, text_norm) SELECT 'Observation', 'floor-' || :client_id || '-' || :r, 'floor-p' || :p, t.param, t.system, t.code, t.text_norm FROM (VALUES ('category', 'http://terminology.hl7.org/CodeSystem/observation-category', 'vital-signs', NULL), ('code', 'http://loinc.org', '8867-4', 'heart rate'), ('code-value-quantity$0#0', 'http://loinc.org', '8867-4', 'heart rate'), ('status', 'http://hl7.org/fhir/observation-status', 'final', NULL)) AS t (param, system, code, text_norm);
INSERT INTO idx_quantity (resource_type, id, patient_key, param, system, code, low, high) SELECT 'Observation', 'floor-' || :client_id || '-' || :r, 'floor-p' || :p, q.param, 'http://unitsofmeasure.org', q.code, (:v - 0.5) * q.factor, (:v + 0.5) * q.factor FROM (VALUES ('code-value-quantity$1#0', '/min', 1.0), ('code-value-quantity$1:' || 'ucum#0', 's-1', 1.0 / 60), ('value-quantity', '/min', 1.0), ('value-quantity:' || 'ucum', 's-1', 1.0 / 60)) AS q (param, code, factor);
INSERT INTO idx_reference (resource_type, id, patient_key, param, target_type, target_id, target_url) SELECT 'Observation', 'floor-' || :client_id || '-' || :r, 'floor-p' || :p, x.param, 'Patient', 'floor-p' || :p, 'Patient/floor-p' || :p FROM (VALUES ('patient'), ('subject')) AS x (param);
INSERT INTO idx_date (resource_type, id, patient_key, param, low, high) VALUES ('Observation', 'floor-' || :client_id || '-' || :r, 'floor-p' || :p, 'date', 1718442300000, 1718442300999);
COMMIT;
\endpipeline
