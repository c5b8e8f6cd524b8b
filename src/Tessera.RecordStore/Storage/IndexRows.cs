using Tessera.RecordStore.Indexing;

namespace Tessera.RecordStore.Storage;

/// <summary>
/// The rows of each index table for one resource version, distinct, as both databases' writers insert them:
/// the columns after (resource_type, id, patient_key), with the PostgreSQL type of each.
/// </summary>
internal static class IndexRows
{
    internal sealed record Table(string Name, (string Column, string SqlType)[] Columns, List<object?[]> Rows);

    public static IEnumerable<Table> Of(IndexValues index)
    {
        yield return new("idx_string", [("param", "text"), ("value_norm", "text"), ("value_exact", "text")], Rows(index.Strings, r => [r.Param, r.Norm, r.Exact]));
        yield return new("idx_token", [("param", "text"), ("system", "text"), ("code", "text"), ("text_norm", "text")], Rows(index.Tokens, r => [r.Param, r.System, r.Code, r.Text]));
        yield return new("idx_date", [("param", "text"), ("low", "bigint"), ("high", "bigint")], Rows(index.Dates, r => [r.Param, r.Low, r.High]));
        yield return new("idx_number", [("param", "text"), ("low", "double precision"), ("high", "double precision")], Rows(index.Numbers, r => [r.Param, r.Low, r.High]));
        yield return new("idx_quantity", [("param", "text"), ("system", "text"), ("code", "text"), ("low", "double precision"), ("high", "double precision")], Rows(index.Quantities, r => [r.Param, r.System, r.Code, r.Low, r.High]));
        yield return new("idx_reference", [("param", "text"), ("target_type", "text"), ("target_id", "text"), ("target_url", "text")], Rows(index.References, r => [r.Param, r.TargetType, r.TargetId, r.TargetUrl]));
        yield return new("idx_uri", [("param", "text"), ("value", "text")], Rows(index.Uris, r => [r.Param, r.Value]));
    }

    private static List<object?[]> Rows<TRow>(List<TRow> rows, Func<TRow, object?[]> values) => [.. rows.Distinct().Select(values)];
}
