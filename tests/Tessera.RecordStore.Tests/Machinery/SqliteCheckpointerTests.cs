using System.Globalization;
using Hl7.Fhir.Model;
using Microsoft.Extensions.Logging.Abstractions;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Storage;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Machinery;

/// <summary>The SQLite write-ahead log is checkpointed in the background, never by the commit of a write.</summary>
public sealed class SqliteCheckpointerTests
{
    [Fact]
    public async System.Threading.Tasks.Task The_store_connections_never_checkpoint_in_a_commit_and_cap_the_log_file()
    {
        await using var db = await TestDatabase.CreateAsync("sqlite");
        await using var store = await FhirStore.OpenAsync(db.Location);

        Assert.Equal(0L, await ScalarAsync(store, "PRAGMA wal_autocheckpoint"));
        Assert.Equal(64L * 1024 * 1024, await ScalarAsync(store, "PRAGMA journal_size_limit"));
        Assert.Equal("wal", Convert.ToString(await ScalarAsync(store, "PRAGMA journal_mode"), CultureInfo.InvariantCulture));
    }

    [Fact]
    public async System.Threading.Tasks.Task A_checkpoint_waits_for_the_write_in_progress_and_leaves_the_whole_log_copied()
    {
        await using var db = await TestDatabase.CreateAsync("sqlite");
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var held = await HoldOpenAsync(store);
        var checkpointer = store.Checkpointer!;
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(201, (await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient", new Patient { Name = [new HumanName { Family = "Before" + i }] }))).Status);
        }

        // A write is in progress when the checkpoint starts: the checkpoint waits for it to end (it is not given up),
        // and copies its pages too.
        var inside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var write = store.WriteAsync(async tx =>
        {
            for (var i = 0; i < 20; i++)
            {
                await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient", new Patient { Name = [new HumanName { Family = "During" + i }] }), tx);
            }

            inside.SetResult();
            await release.Task;
            return 0;
        });
        await inside.Task;
        var checkpoint = checkpointer.CheckpointAsync(default);
        release.SetResult();
        await write;
        var (log, copied) = (await checkpoint)!.Value;

        Assert.True(log > 0);
        Assert.Equal(log, copied);
        // Nothing committed after the checkpoint's last step: the log is as long as it said, and all of it copied.
        var (peekLog, peekCopied) = await PeekAsync(store);
        Assert.Equal((log, log), (peekLog, peekCopied));

        // The next write starts the log over from its beginning.
        Assert.Equal(201, (await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient", new Patient()))).Status);
        var (after, _) = await PeekAsync(store);
        Assert.InRange(after, 1, log - 1);
    }

    [Fact]
    public async System.Threading.Tasks.Task Writes_are_followed_by_a_background_checkpoint_after_which_the_log_starts_over()
    {
        await using var db = await TestDatabase.CreateAsync("sqlite");
        await using var store = await FhirStore.OpenAsync(db.Location);
        await using var held = await HoldOpenAsync(store);
        var before = store.Checkpointer!.Runs;

        // Three transactions of 100 Patients each: hundreds of pages of log.
        for (var round = 0; round < 3; round++)
        {
            var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
            for (var i = 0; i < 100; i++)
            {
                bundle.Entry.Add(new Bundle.EntryComponent { Resource = new Patient { Name = [new HumanName { Family = "Grow" + i, Given = ["Log" + round] }] }, Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.POST, Url = "Patient" } });
            }

            Assert.Equal(200, (await store.ExecuteAsync(new FhirRequest { Method = "POST", Path = string.Empty, Resource = bundle })).Status);
        }

        // Polls for the outcome without asserting how soon it comes (about a second after the write).
        for (var i = 0; i < 600 && store.Checkpointer.Runs == before; i++)
        {
            await System.Threading.Tasks.Task.Delay(50);
        }

        Assert.True(store.Checkpointer.Runs > before, "no checkpoint followed the write");

        // The checkpoint copied the whole log, so one more small write starts it over: the log is then that write's
        // few pages, not the bundle's hundreds before them.
        Assert.Equal(201, (await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient", new Patient()))).Status);
        var (log, copied) = await PeekAsync(store);
        Assert.InRange(log, 1, 100);
        Assert.Equal(log, copied);
    }

    [Fact]
    public async System.Threading.Tasks.Task Telling_it_of_writes_never_throws_whatever_the_loop_is_doing()
    {
        // A write tells the checkpointer it ended from inside its own dispose, after its commit: a throw there tells
        // the client a stored write failed. The loop here gives up waiting after a millisecond without writes and
        // then gathers for 20: writes end at every point of its round, in the gathering after a wait that timed out
        // too, and in the checkpoint that follows.
        await using var db = await TestDatabase.CreateAsync("sqlite");
        await using var store = await FhirStore.OpenAsync(db.Location);
        var checkpointer = new SqliteCheckpointer(store.OpenConnectionAsync, new SemaphoreSlim(1, 1), NullLogger.Instance, TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(1));
        await using (checkpointer)
        {
            var random = new Random(7);
            for (var i = 0; i < 300; i++)
            {
                checkpointer.Written();
                await System.Threading.Tasks.Task.Delay(random.Next(4));
            }
        }

        Assert.True(checkpointer.Runs > 0, "the loop never checkpointed after a write");
    }

    [Fact]
    public async System.Threading.Tasks.Task A_PostgreSQL_store_has_no_checkpointer()
    {
        await using var db = await TestDatabase.CreateAsync("postgres");
        await using var store = await FhirStore.OpenAsync(db.Location);
        Assert.Null(store.Checkpointer);
    }

    private static async Task<object?> ScalarAsync(FhirStore store, string sql)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        return await cmd.ExecuteScalarAsync();
    }

    /// <summary>
    /// A connection kept open for the test. Microsoft.Data.Sqlite closes idle pooled connections from a timer of its
    /// own, and when the last connection to a file closes, SQLite copies the whole log and empties it: landing between
    /// a write and a look at the log (rarely, at a random moment), that made the log read as empty. With a connection
    /// held, the log is only ever what the writes and the checkpointer left.
    /// </summary>
    private static Task<System.Data.Common.DbConnection> HoldOpenAsync(FhirStore store) => store.OpenConnectionAsync();

    /// <summary>The log's length and how much of it is copied, as a passive checkpoint reports them after copying what it can.</summary>
    private static async Task<(long Log, long Copied)> PeekAsync(FhirStore store)
    {
        await using var connection = await store.OpenConnectionAsync();
        await using var cmd = connection.CreateCommand();
        cmd.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        await using var reader = await cmd.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt64(1), reader.GetInt64(2));
    }
}
