using System.Globalization;
using System.Text.Json;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Time.Testing;
using Tessera.Governance.Audit;
using Tessera.Governance.Storage;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;

namespace Tessera.Governance.Tests.Audit;

/// <summary>
/// Reads' events stored a batch to a row: each is still an AuditEvent of its own to every reader (by id, by patient,
/// paged, counted, exported), and changing, removing, moving or deleting any of them is detected — on both databases.
/// </summary>
public sealed class AuditBatchTests
{
    /// <summary>The writer gathers reads' events until something flushes the trail (it lingers for a minute).</summary>
    private static GovernanceOptions Gathering(TimeProvider? clock = null) =>
        new() { AuditChainMilliseconds = 60_000, AuditLingerMilliseconds = 60_000, Clock = clock ?? TimeProvider.System };

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Reads_events_are_not_stored_a_row_each(string backend)
    {
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend, new GovernanceOptions { AuditChainMilliseconds = 1000, AuditLingerMilliseconds = 500 });
        await using (db)
        await using (store)
        await using (governance)
        {
            await governance.Audit.FlushAsync();
            var reads = await System.Threading.Tasks.Task.WhenAll(Enumerable.Range(0, 20).Select(_ => store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa"))));
            Assert.All(reads, r => Assert.Equal(200, r.Status));
            await governance.Audit.FlushAsync();

            // Twenty reads within one linger: their events share a row or a few, not twenty rows and twenty chain links.
            var rows = await RowsAsync(store);
            Assert.Equal(20, rows.Sum(r => r.Events ?? 1));
            Assert.InRange(rows.Count, 1, 4);
            var verification = await governance.VerifyAuditAsync();
            Assert.True(verification.Intact, string.Join("; ", verification.Problems.Select(p => p.Message)));
            Assert.Equal((long)rows.Count, verification.Rows);
            Assert.Equal(20, verification.Events);
            if (backend == "sqlite")
            {
                // The patient index holds each patient of a row once, however many of its events concern them.
                Assert.Equal((long)rows.Count, await ScalarAsync(store, "SELECT COUNT(*) FROM gov_audit_subject"));
            }
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task PostgreSQL_compresses_the_trail_with_lz4_where_it_can(string backend)
    {
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend, new GovernanceOptions());
        await using (db)
        await using (store)
        await using (governance)
        {
            if (backend != "postgres")
            {
                return;
            }

            var lz4 = await ScalarAsync(store, "SELECT COUNT(*) FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)");
            var column = await ScalarAsync(store, "SELECT COUNT(*) FROM pg_attribute WHERE attrelid = 'gov_audit_event'::regclass AND attname = 'json' AND attcompression = 'l'");
            Assert.Equal(lz4, column);
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task An_event_names_the_patient_whose_compartment_a_returned_resource_is_in(string backend)
    {
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend, Gathering());
        await using (db)
        await using (store)
        await using (governance)
        {
            // An appointment names its patient only as a participant: no subject or patient element says whose it is,
            // but it is in that patient's compartment, and the policy judged it as theirs.
            var appointment = new Appointment
            {
                Id = "appt-pa",
                Status = Appointment.AppointmentStatus.Booked,
                Participant = [new Appointment.ParticipantComponent { Actor = new ResourceReference("Patient/pa"), Status = ParticipationStatus.Accepted }],
            };
            Assert.Equal(201, (await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = "Appointment/appt-pa", Resource = appointment })).Status);
            await ReadAsync(store, Callers.Gp, "Appointment/appt-pa");
            await ReadAsync(store, Callers.Gp, "Appointment/appt-pa/_history/1");
            var searched = await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Appointment?_id=appt-pa"));
            Assert.Single(((Bundle)searched.Resource!).Entry);
            await governance.Audit.FlushAsync();

            var (_, events) = await SearchAsync(store, Callers.IgLead, "AuditEvent?patient=pa&_count=100");
            var returned = events.Where(e => e.Entity.Any(x => x.What?.Reference == "Appointment/appt-pa/_history/1")).ToList();
            Assert.Equal(["read", "search-type", "vread"], returned.Select(e => e.Subtype[0].Code).Order());
            Assert.All(returned, e => Assert.True(Concerns(e, "pa"), e.Id));
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task PostgreSQL_keeps_a_batch_row_whole_in_its_page_when_it_fits(string backend)
    {
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend, Gathering());
        await using (db)
        await using (store)
        await using (governance)
        {
            if (backend != "postgres")
            {
                return;
            }

            Assert.Equal(1L, await ScalarAsync(store, "SELECT COUNT(*) FROM pg_class WHERE relname = 'gov_audit_event' AND 'toast_tuple_target=8160' = ANY (reloptions)"));

            // Reads of sixty people with random ids make a batch row whose JSON, compressed, is still over 2 kB (where
            // PostgreSQL would otherwise move it to TOAST) and under 8 kB: it stays in the row.
            var people = Enumerable.Range(0, 60).Select(_ => Guid.NewGuid().ToString()).ToList();
            foreach (var id in people)
            {
                await PutPatientAsync(store, id);
            }

            foreach (var id in people)
            {
                await ReadAsync(store, Callers.Gp, $"Patient/{id}");
            }

            await governance.Audit.FlushAsync();
            Assert.True(await ScalarAsync(store, "SELECT COUNT(*) FROM gov_audit_event WHERE pg_column_size(json) > 2500") > 0);
            Assert.Equal(0L, await ScalarAsync(store, "SELECT pg_relation_size(reltoastrelid) / 8192 FROM pg_class WHERE relname = 'gov_audit_event'"));
            var verification = await governance.VerifyAuditAsync();
            Assert.True(verification.Intact, string.Join("; ", verification.Problems.Select(p => p.Message)));
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Each_event_of_a_batch_is_an_audit_event_of_its_own_to_every_reader(string backend)
    {
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend, Gathering());
        await using (db)
        await using (store)
        await using (governance)
        {
            await PutPatientAsync(store, "pb");
            await PutPatientAsync(store, "pc");
            for (var round = 0; round < 3; round++)
            {
                // A round's reads (of three people by the GP, and the citizen's own) commit as one batch.
                foreach (var target in new[] { "pa", "pb", "pa", "pc", "pb" })
                {
                    await ReadAsync(store, Callers.Gp, $"Patient/{target}");
                }

                await ReadAsync(store, Callers.Citizen, "Patient/p-citizen");
                if (round == 1)
                {
                    var created = await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "POST", "Observation", new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Patient/pa") }));
                    Assert.Equal(201, created.Status);
                }

                await governance.Audit.FlushAsync();
            }

            var rows = await RowsAsync(store);
            Assert.Equal(18, rows.Where(r => r.Events is not null).Sum(r => r.Events));
            Assert.InRange(rows.Count(r => r.Events is not null), 3, 6);

            // Rows are stored in the order they are chained: no later link covers an earlier row.
            Assert.Equal(0L, await ScalarAsync(store, "SELECT COUNT(*) FROM gov_audit_chain a JOIN gov_audit_chain b ON a.n < b.n AND a.seq > b.seq"));

            // By patient: only the events that concern them, though they share rows with others'.
            var (pbTotal, pb) = await SearchAsync(store, Callers.IgLead, "AuditEvent?patient=pb&_count=100");
            Assert.Equal(6, pb.Count(IsRead));
            Assert.All(pb, e => Assert.True(Concerns(e, "pb"), e.Id));
            Assert.Equal(pb.Count, pbTotal);

            // By id: every read's event, each from its batch.
            var (_, everything) = await SearchAsync(store, Callers.IgLead, "AuditEvent?_count=1000");
            var reads = everything.Where(IsRead).ToList();
            Assert.Equal(18, reads.Count);
            Assert.All(reads, e => Assert.Matches("^[A-Za-z0-9\\-\\.]{1,64}$", e.Id));
            Assert.Equal(18, reads.Select(e => e.Id).Distinct().Count());
            foreach (var ev in reads)
            {
                var read = await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", $"AuditEvent/{ev.Id}"));
                Assert.Equal(200, read.Status);
                var found = (AuditEvent)read.Resource!;
                Assert.Equal(ev.Id, found.Id);
                Assert.Equal(ev.Recorded, found.Recorded);
                Assert.Equal(ev.Entity.Select(x => x.What?.Reference), found.Entity.Select(x => x.What?.Reference));
                Assert.Equal(ev.Agent[0].Who.Reference, found.Agent[0].Who.Reference);
            }

            // A word that is no patient (a batch row's separator, nothing) is refused rather than searched for.
            Assert.Equal(400, (await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", "AuditEvent?patient=%7C"))).Status);
            Assert.Equal(400, (await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", "AuditEvent?patient=pa,"))).Status);

            // A batch row's own id names no event, nor a place past its end.
            var batch = rows.First(r => r.Events is not null);
            Assert.Equal(404, (await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", $"AuditEvent/{batch.Id}"))).Status);
            Assert.Equal(404, (await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", $"AuditEvent/{batch.Id}.{batch.Events}"))).Status);

            // Pages of two through a patient's events, across and inside rows: each once, newest first, as many as the total.
            foreach (var query in new[] { "AuditEvent?patient=pa&_count=2", "AuditEvent?_count=2", "AuditEvent?patient=pc,pb&_count=3" })
            {
                var (total, paged) = await SearchAsync(store, Callers.IgLead, query);
                Assert.Equal(total, paged.Count);
                Assert.Equal(paged.Count, paged.Select(e => e.Id).Distinct().Count());
                Assert.True(paged.Zip(paged.Skip(1)).All(p => p.First.Recorded >= p.Second.Recorded), query);
            }

            var (_, pa) = await SearchAsync(store, Callers.IgLead, "AuditEvent?patient=pa&_count=2");
            Assert.Equal(6, pa.Count(IsRead));
            Assert.Single(pa, e => e.Subtype[0].Code == "create");
            Assert.All(pa, e => Assert.True(Concerns(e, "pa"), e.Id));
            var (_, both) = await SearchAsync(store, Callers.IgLead, "AuditEvent?patient=pc,pb&_count=3");
            Assert.Equal(9, both.Count(IsRead));

            // The citizen sees the events of their own record only, though they share rows with the GP's.
            var (mineTotal, mine) = await SearchAsync(store, Callers.Citizen, "AuditEvent?_count=2");
            Assert.Equal(mine.Count, mineTotal);
            Assert.Equal(3, mine.Count(IsRead));
            Assert.All(mine, e => Assert.True(Concerns(e, "p-citizen"), e.Id));
            var own = mine.First(IsRead);
            Assert.Equal(200, (await store.ExecuteAsync(GovernedStores.Request(Callers.Citizen, "GET", $"AuditEvent/{own.Id}"))).Status);
            var neighbour = reads.First(e => Concerns(e, "pa") && e.Id!.StartsWith(own.Id![..own.Id!.LastIndexOf('.')], StringComparison.Ordinal));
            Assert.Equal(404, (await store.ExecuteAsync(GovernedStores.Request(Callers.Citizen, "GET", $"AuditEvent/{neighbour.Id}"))).Status);

            // Subject access: exactly the person's events.
            var export = (Bundle)(await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", "Patient/pb/$export-record"))).Resource!;
            var exported = export.Entry.Select(e => e.Resource).OfType<AuditEvent>().ToList();
            Assert.Equal(6, exported.Count(IsRead));
            Assert.All(exported, e => Assert.True(Concerns(e, "pb"), e.Id));
            Assert.Equal(pb.Where(IsRead).Select(e => e.Id).Order(StringComparer.Ordinal), exported.Where(IsRead).Select(e => e.Id).Order(StringComparer.Ordinal));
            var citizenExport = (Bundle)(await store.ExecuteAsync(GovernedStores.Request(Callers.Citizen, "GET", "Patient/p-citizen/$export-record"))).Resource!;
            var citizenEvents = citizenExport.Entry.Select(e => e.Resource).OfType<AuditEvent>().ToList();
            Assert.Equal(3, citizenEvents.Count(IsRead));
            Assert.All(citizenEvents, e => Assert.True(Concerns(e, "p-citizen"), e.Id));

            var verification = await governance.VerifyAuditAsync();
            Assert.True(verification.Intact, string.Join("; ", verification.Problems.Select(p => p.Message)));
            Assert.True(verification.Events > verification.Rows);
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Dates_and_pages_follow_each_events_own_time_across_rows(string backend)
    {
        var start = DateTimeOffset.Parse("2026-03-01T10:00:00Z", CultureInfo.InvariantCulture);
        var clock = new FakeTimeProvider(start);
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend, Gathering(clock));
        await using (db)
        await using (store)
        await using (governance)
        {
            // Reads at 0, 300 and 600 ms, a write at 400 ms (its own row, chained before the reads' batch), and two
            // reads 5 s later: those are too far from the first to share its row.
            foreach (var at in new[] { 0, 300, 400, 600, 5000, 5100 })
            {
                clock.SetUtcNow(start.AddMilliseconds(at));
                var response = await store.ExecuteAsync(at == 400
                    ? GovernedStores.Request(Callers.Gp, "POST", "Observation", new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Patient/pa") })
                    : GovernedStores.Request(Callers.Gp, "GET", "Patient/pa"));
                Assert.True(response.Status is 200 or 201);
            }

            await governance.Audit.FlushAsync();
            var rows = await RowsAsync(store);
            Assert.Equal(new int?[] { null, 3, 2 }, rows.Select(r => r.Events));

            // (The searches below are audited a minute later, outside the dates searched.)
            clock.SetUtcNow(start.AddMinutes(1));
            var (total, paged) = await SearchAsync(store, Callers.IgLead, "AuditEvent?patient=pa&date=lt2026-03-01T10:00:10Z&_count=1");
            Assert.Equal(6, total);
            Assert.Equal(new long[] { 5100, 5000, 600, 400, 300, 0 }, paged.Select(e => Offset(e, start)));

            var (within, some) = await SearchAsync(store, Callers.IgLead, "AuditEvent?patient=pa&date=ge2026-03-01T10:00:00.300Z&date=lt2026-03-01T10:00:05.050Z&_count=2");
            Assert.Equal(4, within);
            Assert.Equal(new long[] { 5000, 600, 400, 300 }, some.Select(e => Offset(e, start)));
            // A next link made before batch rows carried the time and row only: it still pages from there.
            var write = rows[0];
            var (_, older) = await SearchAsync(store, Callers.IgLead, $"AuditEvent?patient=pa&_before={start.AddMilliseconds(400).ToUnixTimeMilliseconds()}.{write.Seq}");
            Assert.Equal(new long[] { 300, 0 }, older.Select(e => Offset(e, start)));

            var (day, _) = await SearchAsync(store, Callers.IgLead, "AuditEvent?date=2026-03-01&date=lt2026-03-01T10:00:00.600Z");
            Assert.Equal(3, day); // the reads at 0 and 300 ms and the write at 400 ms
            Assert.True((await governance.VerifyAuditAsync()).Intact);
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Changing_removing_or_moving_an_event_in_a_batch_or_deleting_the_batch_is_detected(string backend)
    {
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend, Gathering());
        await using (db)
        await using (store)
        await using (governance)
        {
            await PutPatientAsync(store, "pb");
            for (var round = 0; round < 2; round++)
            {
                foreach (var target in new[] { "pa", "pb", "pa", "pb" })
                {
                    await ReadAsync(store, Callers.Gp, $"Patient/{target}");
                }

                await governance.Audit.FlushAsync();
            }

            Assert.True((await governance.VerifyAuditAsync()).Intact);
            var row = (await RowsAsync(store)).First(r => r.Events is not null);
            var n = await ScalarAsync(store, $"SELECT n FROM gov_audit_chain WHERE seq = {row.Seq}");
            var elements = Elements(row.Json);
            var lists = AuditRows.PatientLists(row.Patients).ToList();
            Assert.Equal(row.Json, Join(elements));

            // One event's content changed.
            Assert.Contains("\"status\":200", elements[2], StringComparison.Ordinal);
            var changed = elements.ToList();
            changed[2] = changed[2].Replace("\"status\":200", "\"status\":404", StringComparison.Ordinal);
            await ExpectChangedAsync(changed, lists, "was changed");

            // One event removed, with its patients and the count.
            var fewer = elements.Where((_, i) => i != 1).ToList();
            await ExpectChangedAsync(fewer, [.. lists.Where((_, i) => i != 1)], "was changed");

            // Two events swapped (with their patients, so the row reads as consistent).
            var (a, b) = (0, elements.FindIndex(e => e != elements[0]));
            Assert.True(b > 0);
            var swapped = elements.ToList();
            (swapped[a], swapped[b]) = (swapped[b], swapped[a]);
            var swappedLists = lists.ToList();
            (swappedLists[a], swappedLists[b]) = (swappedLists[b], swappedLists[a]);
            await ExpectChangedAsync(swapped, swappedLists, "was changed");

            // The count beside the events, which searches total, altered alone.
            await AuditTrailTests.ExecAsync(store, "UPDATE gov_audit_event SET events = events + 1 WHERE seq = @s", ("@s", row.Seq));
            Assert.Contains((await governance.VerifyAuditAsync()).Problems, p => p.Position == n && p.Message.Contains("count of events", StringComparison.Ordinal));
            await AuditTrailTests.ExecAsync(store, "UPDATE gov_audit_event SET events = events - 1 WHERE seq = @s", ("@s", row.Seq));
            Assert.True((await governance.VerifyAuditAsync()).Intact);

            if (backend == "sqlite")
            {
                await AuditTrailTests.ExecAsync(store, "DELETE FROM gov_audit_subject WHERE seq = @s AND patient_key = 'pb'", ("@s", row.Seq));
                Assert.Contains((await governance.VerifyAuditAsync()).Problems, p => p.Position == n && p.Message.Contains("patient index", StringComparison.Ordinal));
                await AuditTrailTests.ExecAsync(store, "INSERT INTO gov_audit_subject (patient_key, seq) VALUES ('pb', @s)", ("@s", row.Seq));
                Assert.True((await governance.VerifyAuditAsync()).Intact);
            }

            // The whole batch row deleted.
            await AuditTrailTests.ExecAsync(store, "DELETE FROM gov_audit_event WHERE seq = @s", ("@s", row.Seq));
            var deleted = await governance.VerifyAuditAsync();
            Assert.Contains(deleted.Problems, p => p.Position == n && p.Message.Contains($"row {n} is missing", StringComparison.Ordinal));

            async System.Threading.Tasks.Task ExpectChangedAsync(List<string> events, List<string> patients, string message)
            {
                await AuditTrailTests.ExecAsync(store, "UPDATE gov_audit_event SET json = @j, patient_keys = @p, events = @e WHERE seq = @s",
                    ("@j", Join(events)), ("@p", string.Join(AuditRows.EventSeparator, patients)), ("@e", events.Count), ("@s", row.Seq));
                var verification = await governance.VerifyAuditAsync();
                Assert.Contains(verification.Problems, p => p.Position == n && p.Message.Contains(message, StringComparison.Ordinal) && p.Message.Contains("a batch of", StringComparison.Ordinal));
                await AuditTrailTests.ExecAsync(store, "UPDATE gov_audit_event SET json = @j, patient_keys = @p, events = @e WHERE seq = @s", ("@j", row.Json), ("@p", row.Patients), ("@e", row.Events), ("@s", row.Seq));
                Assert.True((await governance.VerifyAuditAsync()).Intact);
            }
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task A_trail_written_before_batches_verifies_after_the_upgrade_and_then_takes_batches(string backend)
    {
        await using var db = await TestDatabase.CreateAsync(backend);
        var record = JsonSerializer.Serialize(
            new InteractionRecord { Agent = new Who("gp-user", "gp", "Practitioner/p-gp", Callers.OrgA, null, "test-client"), Subtype = "read", Action = "R", Status = 200, Resources = ["Patient/pa/_history/1"] },
            AuditJson.Default.InteractionRecord);
        var sign = AuditEvents.Entry.Of(new AuditEvent { Type = new Coding(AuditEvents.DicomSystem, "110114"), Recorded = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000), Source = new AuditEvent.SourceComponent { Observer = new ResourceReference("Device/tessera") } }, ["pa"]);
        var old = new[]
        {
            new AuditEvents.Entry(Guid.CreateVersion7().ToString(), 1_700_000_000_100, ["pa"], record),
            new AuditEvents.Entry(Guid.CreateVersion7().ToString(), 1_700_000_000_100, ["pa"], record),
            sign,
        };
        await using (var before = await FhirStore.OpenAsync(db.Location))
        {
            // The trail as the schema before batch rows kept it: a row, a chain link and patient rows (SQLite) per event.
            await before.MigratePartAsync("governance", [.. GovernanceSchema.Steps.Take(5)]);
            var prev = string.Empty;
            for (var i = 0; i < old.Length; i++)
            {
                var e = old[i];
                var seq = await ScalarAsync(before, "INSERT INTO gov_audit_event (id, recorded, patient_keys, json) VALUES (@id, @rec, 'pa', @json) RETURNING seq", ("@id", e.Id), ("@rec", e.Recorded), ("@json", e.Content));
                var hash = AuditTrail.Hash(i + 1, e.Id, e.Recorded, "pa", e.Content, prev);
                await AuditTrailTests.ExecAsync(before, "INSERT INTO gov_audit_chain (n, seq, prev_hash, hash) VALUES (@n, @s, @p, @h)", ("@n", (long)(i + 1)), ("@s", seq), ("@p", prev), ("@h", hash));
                if (backend == "sqlite")
                {
                    await AuditTrailTests.ExecAsync(before, "INSERT INTO gov_audit_subject (patient_key, seq) VALUES ('pa', @s)", ("@s", seq));
                }

                prev = hash;
            }

            await AuditTrailTests.ExecAsync(before, "INSERT INTO gov_audit_head (one, n, hash) VALUES (1, @n, @h)", ("@n", (long)old.Length), ("@h", prev));
        }

        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync(Gathering());
        var upgraded = await governance.VerifyAuditAsync();
        Assert.True(upgraded.Intact, string.Join("; ", upgraded.Problems.Select(p => p.Message)));
        Assert.Equal((3L, 3L), (upgraded.Rows, upgraded.Events));

        await PutPatientAsync(store, "pa");
        for (var i = 0; i < 5; i++)
        {
            await ReadAsync(store, Callers.Gp, "Patient/pa");
        }

        await governance.Audit.FlushAsync();
        var appended = await governance.VerifyAuditAsync();
        Assert.True(appended.Intact, string.Join("; ", appended.Problems.Select(p => p.Message)));
        Assert.Equal(8, appended.Events);
        Assert.InRange(appended.Rows, 4, 5);

        // The old events and the new read as before, by patient and by id.
        var (total, events) = await SearchAsync(store, Callers.IgLead, "AuditEvent?patient=pa&_count=3");
        Assert.Equal(8, total);
        Assert.Equal(old.Select(e => e.Id).Order(StringComparer.Ordinal), events.TakeLast(3).Select(e => e.Id).Order(StringComparer.Ordinal));
        foreach (var e in old)
        {
            Assert.Equal(e.Id, ((AuditEvent)(await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", $"AuditEvent/{e.Id}"))).Resource!).Id);
        }
    }

    private static bool IsRead(AuditEvent e) => e.Subtype[0].Code == "read";

    private static bool Concerns(AuditEvent e, string patient) => e.Entity.Any(x => x.What?.Reference == $"Patient/{patient}" && x.Role?.Code == "1");

    private static long Offset(AuditEvent e, DateTimeOffset start) => (long)(e.Recorded!.Value - start).TotalMilliseconds;

    private static async System.Threading.Tasks.Task PutPatientAsync(FhirStore store, string id) =>
        await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"Patient/{id}", Resource = new Patient { Id = id, GeneralPractitioner = [new ResourceReference(Callers.OrgA)] } });

    private static async System.Threading.Tasks.Task ReadAsync(FhirStore store, TestCaller caller, string url) =>
        Assert.Equal(200, (await store.ExecuteAsync(GovernedStores.Request(caller, "GET", url))).Status);

    /// <summary>Follows a search's next links to the end: the first page's total, and every event of every page.</summary>
    private static async Task<(int? Total, List<AuditEvent> Events)> SearchAsync(FhirStore store, TestCaller caller, string query)
    {
        int? total = null;
        var events = new List<AuditEvent>();
        string? next = query;
        while (next is not null)
        {
            var response = await store.ExecuteAsync(GovernedStores.Request(caller, "GET", next));
            Assert.Equal(200, response.Status);
            var bundle = (Bundle)response.Resource!;
            total ??= bundle.Total;
            events.AddRange(bundle.Entry.Select(e => (AuditEvent)e.Resource!));
            next = bundle.NextLink?.ToString() is { } link ? link[link.IndexOf("AuditEvent?", StringComparison.Ordinal)..] : null;
        }

        return (total, events);
    }

    private sealed record StoredRow(long Seq, string Id, string Patients, string Json, int? Events);

    private static async Task<List<StoredRow>> RowsAsync(FhirStore store)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = FhirStore.Command(connection, "SELECT seq, id, patient_keys, json, events FROM gov_audit_event ORDER BY seq");
        await using var reader = await cmd.ExecuteReaderAsync();
        var rows = new List<StoredRow>();
        while (await reader.ReadAsync())
        {
            rows.Add(new StoredRow(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4)));
        }

        return rows;
    }

    /// <summary>A batch row's events as stored, each its JSON text.</summary>
    private static List<string> Elements(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return [.. doc.RootElement.EnumerateArray().Select(e => e.GetRawText())];
    }

    private static string Join(List<string> elements) => "[" + string.Join(',', elements) + "]";

    private static async Task<long> ScalarAsync(FhirStore store, string sql, params (string, object?)[] parameters)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = FhirStore.Command(connection, sql, parameters);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }
}
