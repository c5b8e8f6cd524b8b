using System.CommandLine;
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
}
