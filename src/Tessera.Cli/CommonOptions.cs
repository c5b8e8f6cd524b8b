using System.CommandLine;
using System.Data.Common;
using Spectre.Console;
using Tessera.RecordStore;
using Tessera.RecordStore.Storage;

namespace Tessera.Cli;

/// <summary>Options several commands share.</summary>
internal static class CommonOptions
{
    public static Option<string?> Database() => new("--db")
    {
        Description = "The database: sqlite:<path> (the embedded default, data/tessera.db), a PostgreSQL URL postgres://user:password@host:5432/db, or a connection string. Defaults to TESSERA_DB.",
    };

    /// <summary>--db, else TESSERA_DB, else the embedded SQLite file.</summary>
    public static DatabaseLocation Resolve(string? db) =>
        DatabaseLocation.Parse(string.IsNullOrWhiteSpace(db) ? Environment.GetEnvironmentVariable("TESSERA_DB") : db);

    /// <summary>
    /// Runs an administrative command (users, clients, audit) on an existing store. The usual failures become one
    /// line saying what to do next instead of a stack trace: exit code 2 when --db cannot be used as given (not a
    /// database location, or no SQLite file there — these commands never create a store), 1 when the database cannot
    /// be reached or opened.
    /// </summary>
    public static async Task<int> WithExistingStoreAsync(string? db, Func<FhirStore, Task<int>> work, CancellationToken ct)
    {
        // Checked before parsing, which would create the SQLite file's folder.
        var text = string.IsNullOrWhiteSpace(db) ? Environment.GetEnvironmentVariable("TESSERA_DB") : db;
        var sqlite = string.IsNullOrWhiteSpace(text) ? Path.Combine("data", "tessera.db")
            : text.Trim().StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase) ? text.Trim()["sqlite:".Length..] : null;
        if (sqlite is { Length: > 0 } && !File.Exists(sqlite))
        {
            return Fail(2, $"There is no Tessera database at {Path.GetFullPath(sqlite)}. Give the store's file with --db sqlite:<path> (or TESSERA_DB), or create one first with tessera serve or tessera demo.");
        }

        DatabaseLocation location;
        try
        {
            location = DatabaseLocation.Parse(text);
        }
        catch (FormatException e)
        {
            return Fail(2, $"--db (or TESSERA_DB) is not a database Tessera can use: {e.Message}");
        }

        try
        {
            await using var store = await FhirStore.OpenAsync(location, ct: ct);
            return await work(store);
        }
        catch (Exception e) when (e is DbException or System.Net.Sockets.SocketException or TimeoutException)
        {
            return Fail(1, $"Cannot use the database {location.Describe()}: {Reason(e)} Check that the server is running and reachable, and that --db (or TESSERA_DB) names the right host, database, user and password.");
        }
    }

    private static string Reason(Exception e)
    {
        var reason = e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;
        return reason.TrimEnd('.') + ".";
    }

    private static int Fail(int code, string message)
    {
        Console.Error.WriteLine(message);
        return code;
    }
}
