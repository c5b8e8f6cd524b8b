using Hl7.Fhir.Model;
using Microsoft.Extensions.Time.Testing;
using Tessera.Governance.Policy;
using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.Testing;
using static Tessera.Governance.Tests.Policy.PinnedSearchTests;

namespace Tessera.Governance.Tests.Policy;

/// <summary>
/// On PostgreSQL a caller's test answers for a patient are kept between searches while the database signals no change
/// to the patient's relationships, consents or links, and until the earliest of their expiries: a change made by
/// another process shows once its signal is heard, one made in this process at once, and an expiry when it comes.
/// </summary>
public sealed class KeptAnswersTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    /// <summary>Waits for <paramref name="condition"/> (a signal from the database); fails if it never comes.</summary>
    private static async System.Threading.Tasks.Task EventuallyAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Gave up waiting: {what}");
            await System.Threading.Tasks.Task.Delay(10);
        }
    }

    /// <summary>
    /// Makes a change through <paramref name="there"/> and waits until <paramref name="governance"/> has heard its
    /// signals: a marker sent after it arrives after them (PostgreSQL delivers signals in the order of their commits).
    /// </summary>
    private static async System.Threading.Tasks.Task ChangeAsync(FhirStore there, StoreGovernance governance, Func<System.Threading.Tasks.Task> change)
    {
        await change();
        var marker = "marker-" + Guid.NewGuid().ToString("N");
        await using (var connection = await there.OpenConnectionAsync())
        await using (var cmd = connection.CreateCommand())
        {
            cmd.CommandText = $"SELECT pg_notify('tessera_gov', '{marker}')";
            await cmd.ExecuteScalarAsync();
        }

        await EventuallyAsync(() => governance.Changes.LastSignal == marker, "the change's signal");
    }

    [Fact]
    public async System.Threading.Tasks.Task A_change_made_by_another_process_shows_once_its_signal_is_heard()
    {
        await using var db = await TestDatabase.CreateAsync("postgres");
        await using var here = await FhirStore.OpenAsync(db.Location);
        await using var governance = await here.AddGovernanceAsync(new GovernanceOptions { IgLeadRecipient = "Practitioner/p-ig" });
        await using var there = await FhirStore.OpenAsync(db.Location);
        await using var elsewhere = await there.AddGovernanceAsync(new GovernanceOptions { IgLeadRecipient = "Practitioner/p-ig" });
        await EventuallyAsync(() => governance.Changes.Watching, "the listener to start");
        var answers = governance.Answers!;

        await ChangeAsync(there, governance, () => SeedAsync(there));

        Assert.Equal(Both(Registered), await FoundAsync(here, Registered));
        var used = answers.Used;
        Assert.Equal(Both(Registered), await FoundAsync(here, Registered));
        Assert.True(answers.Used > used, "the second search used the answers kept from the first");
        used = answers.Used;
        Assert.Equal(200, await ReadAsync(here, Registered));
        Assert.True(answers.Used > used, "a read of the Patient used the answers its searches found");
        Assert.Empty(await FoundAsync(here, Stranger));
        Assert.Equal(403, await ReadAsync(here, Stranger));

        // An opt-out recorded by the other process: only what the GP's organisation recorded, once signalled.
        await ChangeAsync(there, governance, () => PutAsync(there, OptOut(Registered)));
        Assert.Equal([$"{Registered}-own"], await FoundAsync(here, Registered));
        Assert.Equal(403, await ReadAsync(here, Registered)); // the Patient was recorded by the other organisation

        // A registration there opens the record here; its end closes it again.
        await ChangeAsync(there, governance, () => PutAsync(there, Person(Stranger, registered: true)));
        Assert.Equal(200, await ReadAsync(here, Stranger));
        Assert.Equal(Both(Stranger), await FoundAsync(here, Stranger));
        await ChangeAsync(there, governance, () => PutAsync(there, Person(Stranger, registered: false)));
        Assert.Equal(403, await ReadAsync(here, Stranger));
        Assert.Empty(await FoundAsync(here, Stranger));

        // The opt-out withdrawn there: the whole record again.
        await ChangeAsync(there, governance, async () =>
            Assert.True((await there.ExecuteAsync(new FhirRequest { Method = "DELETE", Path = $"Consent/{Registered}-optout" })).Status is 200 or 204));
        Assert.Equal(200, await ReadAsync(here, Registered));
        Assert.Equal(Both(Registered), await FoundAsync(here, Registered));
    }

    private static async Task<int> ReadAsync(FhirStore store, string patient) =>
        (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "GET", $"Patient/{patient}"))).Status;

    [Fact]
    public async System.Threading.Tasks.Task Kept_answers_end_when_a_break_glass_grant_expires()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var db = await TestDatabase.CreateAsync("postgres");
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var governance = await store.AddGovernanceAsync(new GovernanceOptions { IgLeadRecipient = "Practitioner/p-ig", Clock = clock });
        await EventuallyAsync(() => governance.Changes.Watching, "the listener to start");
        await PutAsync(store, new Organization { Id = "org-a" });
        await PutAsync(store, new Organization { Id = "org-b" });
        await PutAsync(store, Person(Stranger, registered: false));
        await RecordAsync(store, Stranger);
        Assert.Empty(await FoundAsync(store, Stranger));

        var ask = GovernedStores.Reason();
        ask.Add("minutes", new Integer(30));
        Assert.Equal(200, (await store.ExecuteAsync(GovernedStores.Request(Callers.Gp, "POST", $"Patient/{Stranger}/$break-glass", ask))).Status);
        Assert.Equal(Both(Stranger), await FoundAsync(store, Stranger));
        var used = governance.Answers!.Used;
        clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(Both(Stranger), await FoundAsync(store, Stranger));
        Assert.True(governance.Answers.Used > used, "the grant's answers were kept while it lasted");

        // Nothing in the database changes as the grant runs out: the kept answers end with it all the same.
        clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Empty(await FoundAsync(store, Stranger));
    }

    [Fact]
    public void Changes_are_trusted_only_while_watched_and_a_stamp_holds_until_its_patient_or_everything_changes()
    {
        var changes = new GovernanceChanges();
        var stamp = changes.Take("Patient/a");
        Assert.False(changes.Holds(stamp, "Patient/a"));

        changes.Watch(true);
        Assert.False(changes.Holds(stamp, "Patient/a")); // taken before watching began: changes may have gone unheard
        stamp = changes.Take("Patient/a");
        Assert.True(changes.Holds(stamp, "Patient/a"));

        changes.Apply("Patient/b Patient/a");
        Assert.False(changes.Holds(stamp, "Patient/a"));
        Assert.Equal(1, changes.Signals);

        stamp = changes.Take("Patient/a");
        changes.Apply("*");
        Assert.False(changes.Holds(stamp, "Patient/a"));

        stamp = changes.Take("Patient/a");
        changes.Watch(false);
        changes.Watch(true);
        Assert.False(changes.Holds(stamp, "Patient/a"));

        stamp = changes.Take("Patient/a");
        changes.ChangedAll();
        Assert.False(changes.Holds(stamp, "Patient/a"));
    }
}
