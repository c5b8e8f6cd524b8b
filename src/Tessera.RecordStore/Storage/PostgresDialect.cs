using System.Data;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Tessera.RecordStore.Storage;

internal sealed class PostgresDialect(string connectionString, ILogger? logger = null) : SqlDialect
{
    private readonly PostgresConnections _connections = Build(connectionString, planPerExecution: false);

    // Searches get their own pool whose sessions plan every execution for its own values. After five runs of a
    // prepared statement PostgreSQL may otherwise keep one generic plan, and for a search that plan cannot see that
    // "this patient" is selective while "heart rate" is not: measured at 10,000 people, Observation?patient=&code=
    // &_sort=-date took 3.6 s with the generic plan against milliseconds planned for its values. Reads by id and
    // writes keep their generic plans, which are right for every value, and so do searches whose rows one patient
    // alone chooses (Observation?patient=, Patient/123/Condition): planning Observation?patient= for each patient
    // cost PostgreSQL about 230 µs, three times what running it did.
    private readonly PostgresConnections _searchConnections = Build(connectionString, planPerExecution: true);

    public override DatabaseKind Kind => DatabaseKind.Postgres;

    public override string ForUpdate => " FOR UPDATE";

    public override int MigrationCount => Schema.PostgresMigrations.Length;

    public override IReadOnlyList<string> Migration(int version) => Schema.PostgresMigrations[version];

    public override async Task<DbConnection> OpenAsync(CancellationToken ct) => await _connections.OpenAsync(ct);

    public override async Task<DbConnection> OpenForSearchAsync(bool plansAlike, CancellationToken ct) =>
        plansAlike ? await _connections.OpenAsync(ct) : await _searchConnections.OpenAsync(ct);

    public override async Task<WriteScope> BeginWriteAsync(CancellationToken ct)
    {
        var connection = await _connections.OpenAsync(ct);
        var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, ct);
        return new WriteScope(connection, transaction, null, logger);
    }

    public override Task LockKeyAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken ct) =>
        AdvisoryLockAsync(connection, transaction, "pg_advisory_xact_lock", key, ct);

    public override Task LockKeySharedAsync(DbConnection connection, DbTransaction transaction, string key, CancellationToken ct) =>
        AdvisoryLockAsync(connection, transaction, "pg_advisory_xact_lock_shared", key, ct);

    private static async Task AdvisoryLockAsync(DbConnection connection, DbTransaction transaction, string function, string key, CancellationToken ct)
    {
        await using var cmd = connection.CreateCommand();
        cmd.Transaction = transaction;
        cmd.CommandText = $"SELECT {function}(@k)";
        var p = cmd.CreateParameter();
        p.ParameterName = "k";
        p.Value = BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(key)), 0);
        cmd.Parameters.Add(p);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public override bool IsUniqueViolation(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override bool IsTransient(Exception e) =>
        e is PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure };

    public override async ValueTask DisposeAsync()
    {
        await _connections.DisposeAsync();
        await _searchConnections.DisposeAsync();
    }

    /// <summary>The session setting of the search connections: every statement planned for its values.</summary>
    internal const string PlanPerExecutionSetting = "plan_cache_mode=force_custom_plan";

    /// <summary>How many connections of each pool are kept hot (see <see cref="PostgresConnections"/>): one a core, at least two.</summary>
    internal static int HotConnections => Math.Max(2, Environment.ProcessorCount);

    /// <summary>The connections of the store's statements, with the settings the connection string leaves to Tessera.</summary>
    internal static PostgresConnections Build(string connectionString, bool planPerExecution)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        var settings = builder.ConnectionStringBuilder;
        void Set(string option)
        {
            settings.Options = string.IsNullOrWhiteSpace(settings.Options) ? option : settings.Options + " " + option;
        }

        if (planPerExecution && !connectionString.Contains("plan_cache_mode", StringComparison.OrdinalIgnoreCase))
        {
            Set("-c " + PlanPerExecutionSetting);
        }

        // The store's statements each touch a few hundred rows by index, but once tables hold millions of rows their
        // estimated costs pass PostgreSQL's JIT threshold, and compiling them took longer than running them
        // (Patient/$everything at 100,000 people: 25 ms with JIT, 5 ms without). A setting in the connection string wins.
        if (!connectionString.Contains("jit", StringComparison.OrdinalIgnoreCase))
        {
            Set("-c jit=off");
        }

        // The store's statements have fixed texts; preparing them spares PostgreSQL a parse and plan per call.
        // A setting in the connection string wins.
        if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase))
        {
            settings.MaxAutoPrepare = 128;
            settings.AutoPrepareMinUsages = 2;
        }

        // The store leaves no session state behind (its locks are transaction locks, it sets nothing), so a pooled
        // connection need not be reset on its way back: that reset is seven statements per use.
        if (!connectionString.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase))
        {
            settings.NoResetOnClose = true;
        }

        return new PostgresConnections(builder, HotConnections);
    }
}
