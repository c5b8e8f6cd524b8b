using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Tessera.Identity.Matching;
using Tessera.Identity.NhsNumbers;
using Tessera.RecordStore.Machinery;

namespace Tessera.Identity.Index;

/// <summary>A source record placed straight into the index's table, with the master it is filed under.</summary>
/// <param name="Person">The record as the matcher sees it; its RecordId is the source Patient's id, its SourceId the source.</param>
/// <param name="MasterId">The master (person) it is filed under.</param>
/// <param name="LinkKind">How it got there: <c>new</c> (the master's first record) or <c>auto</c>.</param>
internal sealed record SourceImport(PersonRecord Person, string MasterId, string LinkKind);

/// <summary>
/// Writes many source records into <c>mpi_source</c> at once (PostgreSQL COPY, else one prepared insert per row
/// in the caller's transaction), as the feed would have left them: NHS number checked, quarantine per source,
/// each with the next generation so the live index loads them. For setting up large indexes (benchmarks) without
/// writing every Patient through the FHIR API; <c>tessera mpi rebuild</c> then works on them as on any others.
/// </summary>
internal static class SourceImports
{
    private const string Columns = "patient_id, version, generation, source, nhs, nhs_status, person, master_id, link_kind, quarantined";

    /// <summary>Imports the records under the feed's lock; returns how many were written.</summary>
    public static Task<long> ImportAsync(MasterPatientIndex index, IEnumerable<SourceImport> records, CancellationToken ct) =>
        index.UnderLockAsync(null, work => WriteAsync(work, records, ct), ct);

    private static async Task<long> WriteAsync(IndexWork work, IEnumerable<SourceImport> records, CancellationToken ct)
    {
        var tx = work.Transaction;
        var options = work.Index.Options;
        long written = 0;
        if (tx.Connection is NpgsqlConnection npgsql)
        {
            await using var copy = await npgsql.BeginBinaryImportAsync($"COPY mpi_source ({Columns}) FROM STDIN (FORMAT BINARY)", ct);
            foreach (var row in records)
            {
                var (nhs, status, quarantined) = Check(row.Person, options);
                await copy.StartRowAsync(ct);
                await copy.WriteAsync(row.Person.RecordId, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(1L, NpgsqlDbType.Bigint, ct);
                await copy.WriteAsync(work.NextGeneration(), NpgsqlDbType.Bigint, ct);
                await copy.WriteAsync(row.Person.SourceId, NpgsqlDbType.Text, ct);
                await WriteNullableAsync(copy, nhs, ct);
                await copy.WriteAsync(status.ToString(), NpgsqlDbType.Text, ct);
                await copy.WriteAsync(JsonSerializer.Serialize(row.Person, MasterPatientIndex.RecordJson), NpgsqlDbType.Text, ct);
                await copy.WriteAsync(row.MasterId, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(row.LinkKind, NpgsqlDbType.Text, ct);
                await copy.WriteAsync(quarantined ? 1L : 0L, NpgsqlDbType.Bigint, ct);
                written++;
            }

            await copy.CompleteAsync(ct);
            return written;
        }

        await using var insert = tx.Command(
            $"INSERT INTO mpi_source ({Columns}) VALUES (@id, 1, @g, @source, @nhs, @status, @person, @master, @kind, @q)",
            ("@id", ""), ("@g", 0L), ("@source", ""), ("@nhs", null), ("@status", ""), ("@person", ""), ("@master", ""), ("@kind", ""), ("@q", 0L));
        foreach (var row in records)
        {
            var (nhs, status, quarantined) = Check(row.Person, options);
            insert.Parameters["@id"].Value = row.Person.RecordId;
            insert.Parameters["@g"].Value = work.NextGeneration();
            insert.Parameters["@source"].Value = row.Person.SourceId;
            insert.Parameters["@nhs"].Value = (object?)nhs ?? DBNull.Value;
            insert.Parameters["@status"].Value = status.ToString();
            insert.Parameters["@person"].Value = JsonSerializer.Serialize(row.Person, MasterPatientIndex.RecordJson);
            insert.Parameters["@master"].Value = row.MasterId;
            insert.Parameters["@kind"].Value = row.LinkKind;
            insert.Parameters["@q"].Value = quarantined ? 1L : 0L;
            await insert.ExecuteNonQueryAsync(ct);
            written++;
        }

        return written;
    }

    /// <summary>The NHS number as the feed stores it: normalised when valid, as recorded when not; quarantine per the source's policy.</summary>
    private static (string? Nhs, NhsNumberStatus Status, bool Quarantined) Check(PersonRecord person, MpiOptions options)
    {
        if (string.IsNullOrWhiteSpace(person.NhsNumber))
        {
            return (null, NhsNumberStatus.Absent, false);
        }

        return NhsNumber.TryNormalise(person.NhsNumber, out var normalised)
            ? (normalised, NhsNumberStatus.Valid, false)
            : (person.NhsNumber.Trim(), NhsNumberStatus.Invalid, options.PolicyFor(person.SourceId) == InvalidNhsNumberPolicy.Quarantine);
    }

    private static async Task WriteNullableAsync(NpgsqlBinaryImporter copy, string? value, CancellationToken ct)
    {
        if (value is null)
        {
            await copy.WriteNullAsync(ct);
        }
        else
        {
            await copy.WriteAsync(value, NpgsqlDbType.Text, ct);
        }
    }
}
