using Hl7.Fhir.Model;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;

namespace Tessera.Governance.Tests.Audit;

/// <summary>The chain that makes the audit trail tamper-evident, fed by concurrent writers without a lock, on both databases.</summary>
public sealed class AuditChainTests
{
    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task Concurrent_writes_and_reads_are_all_chained_once_in_one_unbroken_chain(string backend)
    {
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend);
        await using (db)
        await using (store)
        await using (governance)
        {
            var writes = Enumerable.Range(0, 24).Select(i => store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "POST", "Observation",
                new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Subject = new ResourceReference("Patient/pa"), Value = new Quantity(60 + i, "/min") })));
            var reads = Enumerable.Range(0, 24).Select(_ => store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa")));
            var responses = await System.Threading.Tasks.Task.WhenAll(writes.Concat(reads));
            Assert.All(responses, r => Assert.True(r.Status is 200 or 201));

            var verification = await governance.VerifyAuditAsync();
            Assert.True(verification.Intact, string.Join("; ", verification.Problems.Select(p => p.Message)));
            // The 24 writes' events have a row each; the reads' share rows, a batch per group commit.
            Assert.Equal(48, verification.Events);
            Assert.InRange(verification.Rows, 25, 48);
            Assert.Equal(verification.Rows, verification.LastPosition);
            Assert.Equal(0, verification.Pending);

            var page = await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", "AuditEvent?patient=pa&_count=100"));
            var events = ((Bundle)page.Resource!).Entry.Select(e => (AuditEvent)e.Resource).ToList();
            var created = responses.Where(r => r.Status == 201).Select(r => $"Observation/{r.Id}/_history/1").ToHashSet();
            Assert.Equal(24, created.Count);
            Assert.Equal(created, events.Where(e => e.Subtype[0].Code == "create").SelectMany(e => e.Entity).Select(x => x.What?.Reference).OfType<string>().Where(created.Contains).ToHashSet());
            Assert.Equal(24, events.Count(e => e.Subtype[0].Code == "read"));

            // Pages of 7 follow the next links through all 48 events, newest first, none repeated or skipped.
            var paged = new List<AuditEvent>();
            string? next = "AuditEvent?patient=pa&_count=7";
            while (next is not null)
            {
                var bundle = (Bundle)(await store.ExecuteAsync(GovernedStores.Request(Callers.IgLead, "GET", next))).Resource!;
                paged.AddRange(bundle.Entry.Select(e => (AuditEvent)e.Resource!));
                next = bundle.NextLink?.ToString() is { } link ? link[(link.IndexOf("AuditEvent?", StringComparison.Ordinal))..] : null;
            }

            // (The IG lead's own searches of the trail are audited too, so the pages hold those as well.)
            var ids = events.Select(e => e.Id).ToHashSet();
            Assert.Equal(events.Select(e => e.Id), paged.Select(e => e.Id).Where(ids.Contains));
            Assert.Equal(paged.Count, paged.Select(e => e.Id).Distinct().Count());
            Assert.True(paged.Zip(paged.Skip(1)).All(p => p.First.Recorded!.Value.ToUnixTimeMilliseconds() >= p.Second.Recorded!.Value.ToUnixTimeMilliseconds()));
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task An_event_slipped_in_behind_the_trail_or_removed_before_chaining_is_named(string backend)
    {
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend);
        await using (db)
        await using (store)
        await using (governance)
        {
            await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa"));
            Assert.True((await governance.VerifyAuditAsync()).Intact);

            await AuditTrailTests.ExecAsync(store, "INSERT INTO gov_audit_event (id, recorded, patient_keys, json) VALUES ('forged', 0, 'pa', '{}')");
            var forged = await governance.VerifyAuditAsync();
            Assert.Contains(forged.Problems, p => p.Message.Contains("AuditEvent/forged is not in the chain", StringComparison.Ordinal));

            await AuditTrailTests.ExecAsync(store, "DELETE FROM gov_audit_event WHERE id = 'forged'");
            await AuditTrailTests.ExecAsync(store, "INSERT INTO gov_audit_pending (seq) VALUES (987654)");
            var removed = await governance.VerifyAuditAsync();
            Assert.Contains(removed.Problems, p => p.Message.Contains("(#987654) was deleted before it was chained", StringComparison.Ordinal));
        }
    }

    [Theory]
    [MemberData(nameof(GovernedStores.Backends), MemberType = typeof(GovernedStores))]
    public async System.Threading.Tasks.Task A_trail_checked_while_another_node_appends_to_it_is_intact(string backend)
    {
        var (db, store, governance) = await AuditTrailTests.OpenAsync(backend);
        await using (db)
        await using (store)
        await using (governance)
        {
            // A second node on the same database appends reads' events without pause while this one checks the trail.
            var before = (await governance.VerifyAuditAsync()).Rows;
            await using var other = await FhirStore.OpenAsync(db.Location);
            await using var otherGovernance = await other.AddGovernanceAsync(new GovernanceOptions { AuditLingerMilliseconds = 1 });
            using var stop = new CancellationTokenSource();
            var appending = System.Threading.Tasks.Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    await other.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", "Patient/pa"));
                    await otherGovernance.Audit.FlushAsync();
                }
            });

            try
            {
                for (var check = 0; check < 40; check++)
                {
                    var verification = await governance.VerifyAuditAsync();
                    Assert.True(verification.Intact, $"check {check}: " + string.Join("; ", verification.Problems.Select(p => p.Message)));
                }
            }
            finally
            {
                await stop.CancelAsync();
                await appending;
            }

            Assert.True((await governance.VerifyAuditAsync()).Rows > before);
        }
    }
}
