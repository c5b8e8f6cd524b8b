using System.Data.Common;
using Npgsql;

namespace Tessera.Testing;

/// <summary>What a PostgreSQL session is set to.</summary>
public static class PostgresSessions
{
    /// <summary>The session's plan_cache_mode: "auto", or what its options force.</summary>
    public static async Task<string> PlanModeAsync(DbConnection connection)
    {
        await using var show = new NpgsqlCommand("SHOW plan_cache_mode", (NpgsqlConnection)connection);
        return (string)(await show.ExecuteScalarAsync())!;
    }
}
