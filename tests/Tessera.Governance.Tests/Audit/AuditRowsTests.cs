using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Tessera.Governance.Audit;

namespace Tessera.Governance.Tests.Audit;

/// <summary>How reads' events are packed into rows, and the hash that chains the rows, without a database.</summary>
public sealed class AuditRowsTests
{
    private static AuditEvents.Entry Event(long recorded, string patient, int contentChars) =>
        new(null, recorded, [patient], InteractionRecord.Marker + "1,\"query\":\"" + new string('q', Math.Max(0, contentChars - 20)) + "\"}");

    [Fact]
    public void A_batch_row_is_the_events_json_array_in_time_order_with_their_patient_lists()
    {
        var entries = new[] { Event(1_700_000_000_300, "pb", 60), Event(1_700_000_000_100, "pa", 40), Event(1_700_000_000_200, "pc", 50) };

        var row = Assert.Single(AuditRows.Pack(entries));

        Assert.Equal(3, row.Events);
        Assert.Equal(1_700_000_000_300, row.Recorded);
        Assert.Equal("pa | pc | pb", row.Patients);
        var expected = "[" + string.Join(',', entries.OrderBy(e => e.Recorded).Select(e => $"{{\"t\":{e.Recorded.ToString(CultureInfo.InvariantCulture)},\"c\":{e.Content}}}")) + "]";
        Assert.Equal(expected, row.Json);
        using var parsed = JsonDocument.Parse(row.Json);
        Assert.Equal([1_700_000_000_100, 1_700_000_000_200, 1_700_000_000_300], parsed.RootElement.EnumerateArray().Select(e => e.GetProperty("t").GetInt64()));
    }

    [Fact]
    public void Batch_rows_stay_small_enough_not_to_be_large_objects()
    {
        // 150 events of about 900 characters: more text than one row may hold, though fewer events than MaxEvents allows twice.
        var entries = Enumerable.Range(0, 150).Select(i => Event(1_700_000_000_000 + i, "p" + i, 900)).ToArray();

        var rows = AuditRows.Pack(entries);

        Assert.True(rows.Count >= 4, $"{rows.Count} rows");
        Assert.All(rows, r => Assert.InRange(r.Json.Length, 2, AuditRows.MaxBatchChars + 1));
        Assert.All(rows, r => Assert.True(r.Json.Length * sizeof(char) < 85_000, $"{r.Json.Length} characters"));
        Assert.Equal(150, rows.Sum(r => r.Events ?? 1));
        // Every event once, in time order across the rows.
        var times = rows.SelectMany(r => r.Events is null ? [r.Recorded] : JsonDocument.Parse(r.Json).RootElement.EnumerateArray().Select(e => e.GetProperty("t").GetInt64())).ToList();
        Assert.Equal(entries.Select(e => e.Recorded), times);
    }

    [Fact]
    public void An_event_longer_than_a_batch_may_be_has_a_row_of_its_own()
    {
        var entries = new[] { Event(1_700_000_000_000, "pa", 100), Event(1_700_000_000_001, "pb", AuditRows.MaxBatchChars + 500), Event(1_700_000_000_002, "pc", 100), Event(1_700_000_000_003, "pd", 100) };

        var rows = AuditRows.Pack(entries);

        Assert.Equal([null, null, 2], rows.Select(r => r.Events));
        Assert.Equal(entries[1].Content, rows[1].Json);
        Assert.Equal("pc | pd", rows[2].Patients);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(4071)] // the lone surrogate at the first chunk's end
    [InlineData(4079)] // the pair's high surrogate at the first chunk's end
    [InlineData(4080)]
    [InlineData(9000)]
    public void The_chain_hash_is_SHA_256_of_the_fields_one_to_a_line(int filler)
    {
        // Text past the first chunk, a pair of surrogates (an emoji) where a chunk would end, and a lone surrogate.
        var json = "{\"v\":1,\"query\":\"" + new string('x', filler) + "\U0001F600 caf\u00e9 \uD800 end\"}";
        var patients = "p1 p2 | p3";

        var hash = AuditTrail.Hash(42, "row-id", 1_700_000_000_123, patients, json, "prev-hash");

        var joined = string.Join('\n', "42", "row-id", "1700000000123", patients, json, "prev-hash");
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(joined))), hash);
    }
}
