using Hl7.Fhir.Model;
using Tessera.Governance.Audit;
using Tessera.Governance.Storage;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Governance.Tests.Audit;

/// <summary>The audit trail: what is recorded, who may read it, subject access, and tamper detection — on both databases.</summary>
public sealed class AuditTrailTests
{
    internal static async Task<(TestDatabase Db, FhirStore Store, StoreGovernance Governance)> OpenAsync(string backend, GovernanceOptions? options = null)
    {
        var db = await TestDatabase.CreateAsync(backend);
        var store = await FhirStore.OpenAsync(db.Location);
        var governance = await store.AddGovernanceAsync(options);
        await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = "Patient/pa", Resource = new Patient { Id = "pa", GeneralPractitioner = [new ResourceReference(Callers.OrgA)] } });
        await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = "Patient/p-citizen", Resource = new Patient { Id = "p-citizen" } });
        return (db, store, governance);
    }

    private static async Task<List<AuditEvent>> AuditAsync(FhirStore store, TestCaller caller, string query)
    {
        var response = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", "AuditEvent?" + query));
        Assert.Equal(200, response.Status);
        return [.. ((Bundle)response.Resource!).Entry.Select(e => (AuditEvent)e.Resource)];
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Reads_writes_and_refusals_are_audited_as_balp_events(string backend)
    {
        var (db, store, governance) = await OpenAsync(backend);
        await using (db)
        await using (store)
        await using (governance)
        {
            Assert.Equal(200, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa"))).Status);
            Assert.Equal(403, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/p-citizen"))).Status);
            var created = await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "POST", "Observation", new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Patient/pa") }));
            Assert.Equal(201, created.Status);

            var events = await AuditAsync(store, Callers.IgLead, "patient=pa");
            // Newest access first; two accesses in the same millisecond may be listed either way.
            Assert.Equal(["create", "read"], events.Select(e => e.Subtype[0].Code).Order(StringComparer.Ordinal));
            Assert.True(events[0].Recorded!.Value.ToUnixTimeMilliseconds() >= events[1].Recorded!.Value.ToUnixTimeMilliseconds());
            var read = events.Single(e => e.Subtype[0].Code == "read");
            var create = events.Single(e => e.Subtype[0].Code == "create");
            Assert.Equal(AuditEvent.AuditEventAction.R, read.Action);
            Assert.Equal(AuditEvent.AuditEventOutcome.N0, read.Outcome);
            Assert.Equal("Practitioner/p-gp", read.Agent[0].Who.Reference);
            Assert.Equal("192.0.2.10", read.Agent[0].Network.Address);
            Assert.Equal("TREAT", read.PurposeOfEvent[0].Coding[0].Code);
            Assert.Contains(read.Entity, e => e.What?.Reference == "Patient/pa" && e.Role?.Code == "1");
            Assert.Contains(create.Entity, e => e.What?.Reference == $"Observation/{created.Id}/_history/1");

            await governance.Audit.FlushAsync(); // refusals are queued without waiting
            var refused = await AuditAsync(store, Callers.IgLead, "patient=p-citizen");
            Assert.Single(refused);
            Assert.Equal(AuditEvent.AuditEventOutcome.N4, refused[0].Outcome);
            Assert.StartsWith("403", refused[0].OutcomeDesc, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Only_the_ig_lead_and_the_person_read_the_audit(string backend)
    {
        var (db, store, governance) = await OpenAsync(backend);
        await using (db)
        await using (store)
        await using (governance)
        {
            await store.ExecuteAsync(GovernedStores.Request(Callers.Citizen, "GET", "Patient/p-citizen"));
            await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa"));
            var mine = await AuditAsync(store, Callers.Citizen, string.Empty);
            Assert.NotEmpty(mine);
            Assert.All(mine, e => Assert.Contains(e.Entity, x => x.What?.Reference == "Patient/p-citizen"));
            Assert.Equal(403, (await store.ExecuteAsync(GovernedStores.Request(Callers.Citizen, "GET", "AuditEvent?patient=pa"))).Status);
            Assert.Equal(403, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "AuditEvent?patient=pa"))).Status);
            Assert.Equal(403, (await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "POST", "AuditEvent", new AuditEvent()))).Status);
            var all = await AuditAsync(store, Callers.IgLead, "_count=1");
            Assert.Single(all);
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task A_write_and_its_audit_commit_or_roll_back_together(string backend)
    {
        var (db, store, governance) = await OpenAsync(backend);
        await using (db)
        await using (store)
        await using (governance)
        {
            var before = (await governance.VerifyAuditAsync()).Rows;
            var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
            bundle.Entry.Add(new Bundle.EntryComponent { Resource = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "1"), Subject = new ResourceReference("Patient/pa") }, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Observation" } });
            bundle.Entry.Add(new Bundle.EntryComponent { Resource = new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "2"), Subject = new ResourceReference("Patient/p-citizen") }, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Observation" } });
            var response = await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "POST", string.Empty, bundle));
            Assert.Equal(403, response.Status);
            Assert.Equal(0, (int)(await store.CountByTypeAsync()).GetValueOrDefault("Observation"));
            await governance.Audit.FlushAsync();
            var events = await AuditAsync(store, Callers.IgLead, "_count=100");
            Assert.DoesNotContain(events, e => e.Subtype[0].Code == "create" && e.Outcome == AuditEvent.AuditEventOutcome.N0);
            Assert.Contains(events, e => e.Subtype[0].Code == "create" && e.Outcome == AuditEvent.AuditEventOutcome.N4);
            Assert.True((await governance.VerifyAuditAsync()).Rows > before);
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Tampering_with_an_audit_row_is_detected_and_named(string backend)
    {
        var (db, store, governance) = await OpenAsync(backend);
        await using (db)
        await using (store)
        await using (governance)
        {
            // Each read's event committed before the next read: a row each (batch rows are tampered with in AuditBatchTests).
            for (var i = 0; i < 6; i++)
            {
                await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa"));
                await governance.Audit.FlushAsync();
            }

            Assert.True((await governance.VerifyAuditAsync()).Intact);
            await ExecAsync(store, "UPDATE gov_audit_event SET json = REPLACE(json, 'p-gp', 'p-nurse') WHERE seq = (SELECT seq FROM gov_audit_chain WHERE n = 2)");
            var changed = await governance.VerifyAuditAsync();
            Assert.Contains(changed.Problems, p => p.Position == 2 && p.Message.Contains("was changed", StringComparison.Ordinal));

            await ExecAsync(store, "DELETE FROM gov_audit_event WHERE seq = (SELECT seq FROM gov_audit_chain WHERE n = 4)");
            var deleted = await governance.VerifyAuditAsync();
            Assert.Contains(deleted.Problems, p => p.Position == 4 && p.Message.Contains("row 4 is missing", StringComparison.Ordinal));

            await ExecAsync(store, "DELETE FROM gov_audit_chain WHERE n = 6");
            var tail = await governance.VerifyAuditAsync();
            Assert.Contains(tail.Problems, p => p.Message.Contains("row 6, the newest, is missing", StringComparison.Ordinal));

            if (backend == "sqlite")
            {
                // SQLite keeps the patient index in rows of its own; PostgreSQL indexes the hashed patient list itself.
                await ExecAsync(store, "DELETE FROM gov_audit_subject WHERE seq = (SELECT seq FROM gov_audit_chain WHERE n = 3)");
                Assert.Contains((await governance.VerifyAuditAsync()).Problems, p => p.Position == 3 && p.Message.Contains("patient index", StringComparison.Ordinal));
            }
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Subject_access_exports_the_record_and_who_looked_at_it(string backend)
    {
        var (db, store, governance) = await OpenAsync(backend);
        await using (db)
        await using (store)
        await using (governance)
        {
            await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = "Observation/oc", Resource = new Observation { Id = "oc", Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "1"), Subject = new ResourceReference("Patient/p-citizen") } });
            await store.ExecuteAsync(GovernedStores.Request(Callers.Citizen, "GET", "Observation/oc"));
            var export = await store.ExecuteAsync(GovernedStores.Request(Callers.Citizen, "GET", "Patient/p-citizen/$export-record"));
            Assert.Equal(200, export.Status);
            var bundle = (Bundle)export.Resource!;
            Assert.Contains(bundle.Entry, e => e.Resource is Observation { Id: "oc" });
            Assert.Contains(bundle.Entry, e => e.Resource is AuditEvent a && a.Subtype[0].Code == "read" && a.Agent[0].Who.Reference == "Patient/p-citizen" && a.Entity.Any(x => x.What?.Reference == "Observation/oc/_history/1"));
            Assert.DoesNotContain(bundle.Entry, e => e.Resource is Patient { Id: "pa" });
            Assert.Equal(403, (await store.ExecuteAsync(GovernedStores.Request(Callers.Citizen, "GET", "Patient/pa/$export-record"))).Status);
            Assert.Equal(403, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa/$export-record"))).Status);
            var onBehalf = await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", "Patient/p-citizen/$export-record"));
            Assert.Contains(((Bundle)onBehalf.Resource!).Entry, e => e.Resource is Observation { Id: "oc" });
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Events_stored_before_the_patient_list_index_are_found_by_patient_after_the_upgrade(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        var entry = AuditEvents.Entry.Of(
            new AuditEvent
            {
                Type = new Coding(AuditEvents.DicomSystem, "110110", "Patient Record"),
                Recorded = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000),
                Agent = [new AuditEvent.AgentComponent { Requestor = true, Who = new ResourceReference("Practitioner/p-gp") }],
                Source = new AuditEvent.SourceComponent { Observer = new ResourceReference("Device/tessera") },
            },
            ["pa", "pb"]);
        await using (var old = await FhirStore.OpenAsync(db.Location))
        {
            // The trail as the schema before the patient list index kept it: the event, and a patient row for each of its patients.
            await old.MigratePartAsync("governance", [.. GovernanceSchema.Steps.Take(4)]);
            await using var connection = await old.OpenConnectionAsync();
            await using (var insert = FhirStore.Command(connection, "INSERT INTO gov_audit_event (id, recorded, patient_keys, json) VALUES (@id, @rec, 'pa pb', @json)", ("@id", entry.Id), ("@rec", entry.Recorded), ("@json", entry.Content)))
            {
                Assert.Equal(1, await insert.ExecuteNonQueryAsync());
            }

            await using var index = FhirStore.Command(connection, "INSERT INTO gov_audit_subject (patient_key, seq) SELECT k.key, e.seq FROM gov_audit_event e, (SELECT 'pa' AS key UNION ALL SELECT 'pb') k WHERE e.id = @id", ("@id", entry.Id));
            Assert.Equal(2, await index.ExecuteNonQueryAsync());
        }

        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync();
        Assert.Equal(entry.Id, Assert.Single(await AuditAsync(store, Callers.IgLead, "patient=pb")).Id);
        Assert.Equal(entry.Id, Assert.Single(await AuditAsync(store, Callers.IgLead, "patient=Patient/pa")).Id);
        Assert.Empty(await AuditAsync(store, Callers.IgLead, "patient=pc"));
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task An_answered_reads_event_that_could_not_be_appended_is_appended_at_the_next_attempt(string backend)
    {
        var (db, store, governance) = await OpenAsync(backend, QuickRetries);
        await using (db)
        await using (store)
        await using (governance)
        {
            await governance.Audit.FlushAsync();

            // From now until audit_refused is emptied, the database refuses every audit event.
            await RefuseAuditAsync(store, backend);

            Assert.Equal(200, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa"))).Status);
            // The read was answered; the attempt to append its event fails (a flush is told so).
            await Assert.ThrowsAnyAsync<Exception>(governance.Audit.FlushAsync);

            await ExecAsync(store, "DELETE FROM audit_refused");
            await governance.Audit.FlushAsync();
            var events = await AuditAsync(store, Callers.IgLead, "patient=pa");
            Assert.Contains(events, e => e.Subtype[0].Code == "read" && e.Agent[0].Who.Reference == "Practitioner/p-gp");
            Assert.True((await governance.VerifyAuditAsync()).Intact);
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task A_trail_that_cannot_append_still_closes(string backend)
    {
        var (db, store, governance) = await OpenAsync(backend, QuickRetries);
        await using (db)
        await using (store)
        {
            await RefuseAuditAsync(store, backend);
            Assert.Equal(200, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa"))).Status);

            // The read's event is held for the next attempt; closing tries a few more times and then gives up on it
            // (logged as lost) rather than hold the server's shutdown for ever. The bound only turns a hang into a failure.
            await governance.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(2));
        }
    }

    /// <summary>The writer commits and retries every 10 ms, without lingering.</summary>
    private static GovernanceOptions QuickRetries => new() { AuditChainMilliseconds = 10, AuditLingerMilliseconds = 0 };

    /// <summary>Makes the database refuse every audit event from now on (a trigger; cleared by emptying audit_refused).</summary>
    private static async System.Threading.Tasks.Task RefuseAuditAsync(FhirStore store, string backend)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = FhirStore.Command(connection, backend == "postgres"
            ? """
              CREATE TABLE audit_refused (one INTEGER);
              CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF EXISTS (SELECT 1 FROM audit_refused) THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
              CREATE TRIGGER refuse_audit BEFORE INSERT ON gov_audit_event FOR EACH ROW EXECUTE FUNCTION refuse_audit();
              INSERT INTO audit_refused VALUES (1);
              """
            : """
              CREATE TABLE audit_refused (one INTEGER);
              CREATE TRIGGER refuse_audit BEFORE INSERT ON gov_audit_event WHEN EXISTS (SELECT 1 FROM audit_refused) BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;
              INSERT INTO audit_refused VALUES (1);
              """);
        await cmd.ExecuteNonQueryAsync();
    }

    internal static async System.Threading.Tasks.Task ExecAsync(FhirStore store, string sql, params (string, object?)[] parameters)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = FhirStore.Command(connection, sql, parameters);
        Assert.Equal(1, await cmd.ExecuteNonQueryAsync());
    }
}
