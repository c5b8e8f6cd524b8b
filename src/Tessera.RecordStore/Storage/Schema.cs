using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;

namespace Tessera.RecordStore.Storage;

/// <summary>
/// The store's schema, as ordered migrations per dialect. Every row of a patient's compartment carries
/// <c>patient_key</c> so the tables can later be distributed by patient.
/// </summary>
internal static class Schema
{
    // Index tables share one shape: which resource, whose compartment, which parameter, then the values.
    private static string IndexTables(string text, string big, string real) => $"""
        CREATE TABLE idx_string (resource_type {text} NOT NULL, id {text} NOT NULL, patient_key {text}, param {text} NOT NULL, value_norm {text} NOT NULL, value_exact {text} NOT NULL);
        CREATE INDEX ix_idx_string_value ON idx_string (resource_type, param, value_norm);
        CREATE INDEX ix_idx_string_res ON idx_string (resource_type, id);
        CREATE TABLE idx_token (resource_type {text} NOT NULL, id {text} NOT NULL, patient_key {text}, param {text} NOT NULL, system {text}, code {text}, text_norm {text});
        CREATE INDEX ix_idx_token_code ON idx_token (resource_type, param, code, system);
        CREATE INDEX ix_idx_token_res ON idx_token (resource_type, id);
        CREATE TABLE idx_date (resource_type {text} NOT NULL, id {text} NOT NULL, patient_key {text}, param {text} NOT NULL, low {big} NOT NULL, high {big} NOT NULL);
        CREATE INDEX ix_idx_date_value ON idx_date (resource_type, param, low, high);
        CREATE INDEX ix_idx_date_res ON idx_date (resource_type, id);
        CREATE TABLE idx_number (resource_type {text} NOT NULL, id {text} NOT NULL, patient_key {text}, param {text} NOT NULL, low {real} NOT NULL, high {real} NOT NULL);
        CREATE INDEX ix_idx_number_value ON idx_number (resource_type, param, low, high);
        CREATE INDEX ix_idx_number_res ON idx_number (resource_type, id);
        CREATE TABLE idx_quantity (resource_type {text} NOT NULL, id {text} NOT NULL, patient_key {text}, param {text} NOT NULL, system {text}, code {text}, low {real} NOT NULL, high {real} NOT NULL);
        CREATE INDEX ix_idx_quantity_value ON idx_quantity (resource_type, param, code, low, high);
        CREATE INDEX ix_idx_quantity_res ON idx_quantity (resource_type, id);
        CREATE TABLE idx_reference (resource_type {text} NOT NULL, id {text} NOT NULL, patient_key {text}, param {text} NOT NULL, target_type {text}, target_id {text}, target_url {text});
        CREATE INDEX ix_idx_reference_target ON idx_reference (target_id, target_type, param, resource_type);
        CREATE INDEX ix_idx_reference_res ON idx_reference (resource_type, id);
        CREATE TABLE idx_uri (resource_type {text} NOT NULL, id {text} NOT NULL, patient_key {text}, param {text} NOT NULL, value {text} NOT NULL);
        CREATE INDEX ix_idx_uri_value ON idx_uri (resource_type, param, value);
        CREATE INDEX ix_idx_uri_res ON idx_uri (resource_type, id);
        """;

    // Declared before the migrations, which read them (static fields initialise in text order).
    private static readonly string SqliteIndexTables = IndexTables("TEXT", "INTEGER", "REAL");

    private static readonly string PostgresIndexTables = IndexTables("text", "bigint", "double precision").Replace("(resource_type, param, value_norm)", "(resource_type, param, value_norm text_pattern_ops)", StringComparison.Ordinal);

    // Version 2: the index rows of union parameters (R4's combo-code, combo-code-value-quantity, ...), written
    // before they were answered from their parts' rows, are deleted. Both databases take the same statements.
    private static readonly string UnionRowsDeletion = string.Join("\n", UnionRowsDeletions(SearchParameterRegistry.CoreUnions));

    public static readonly string[][] SqliteMigrations =
    [
        [
            """
            CREATE TABLE resource (
                resource_type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, last_updated INTEGER NOT NULL,
                deleted INTEGER NOT NULL, patient_key TEXT, PRIMARY KEY (resource_type, id)) WITHOUT ROWID;
            CREATE INDEX ix_resource_updated ON resource (resource_type, last_updated, id);
            CREATE INDEX ix_resource_patient ON resource (patient_key);
            CREATE TABLE resource_version (
                seq INTEGER PRIMARY KEY AUTOINCREMENT, resource_type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL,
                last_updated INTEGER NOT NULL, deleted INTEGER NOT NULL, method TEXT NOT NULL, patient_key TEXT, json TEXT,
                UNIQUE (resource_type, id, version));
            CREATE INDEX ix_version_updated ON resource_version (last_updated);
            CREATE INDEX ix_version_type_updated ON resource_version (resource_type, last_updated);
            """,
            SqliteIndexTables,
        ],
        [UnionRowsDeletion],
    ];

    public static readonly string[][] PostgresMigrations =
    [
        [
            """
            CREATE TABLE resource (
                resource_type text NOT NULL, id text NOT NULL, version bigint NOT NULL, last_updated bigint NOT NULL,
                deleted smallint NOT NULL, patient_key text, PRIMARY KEY (resource_type, id));
            CREATE INDEX ix_resource_updated ON resource (resource_type, last_updated, id);
            CREATE INDEX ix_resource_patient ON resource (patient_key);
            CREATE TABLE resource_version (
                seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, resource_type text NOT NULL, id text NOT NULL, version bigint NOT NULL,
                last_updated bigint NOT NULL, deleted smallint NOT NULL, method text NOT NULL, patient_key text, json text,
                UNIQUE (resource_type, id, version));
            CREATE INDEX ix_version_updated ON resource_version (last_updated);
            CREATE INDEX ix_version_type_updated ON resource_version (resource_type, last_updated);
            """,
            PostgresIndexTables,
        ],
        [UnionRowsDeletion],
    ];

    /// <summary>
    /// The index tables' indexes as (name, CREATE INDEX IF NOT EXISTS statement): a bulk load into an empty store
    /// drops them and builds them once at the end (sorted, so faster and more compact than row-by-row upkeep), and
    /// opening a store builds any that a load stopped before rebuilding.
    /// </summary>
    public static IReadOnlyList<(string Name, string Create)> IndexTableIndexes(DatabaseKind kind) =>
        (kind == DatabaseKind.Postgres ? PostgresIndexTables : SqliteIndexTables)
            .Split('\n', StringSplitOptions.TrimEntries)
            .Where(line => line.StartsWith("CREATE INDEX ", StringComparison.Ordinal))
            .Select(line => (line.Split(' ')[2], "CREATE INDEX IF NOT EXISTS " + line["CREATE INDEX ".Length..].TrimEnd(';')))
            .ToList();

    /// <summary>
    /// One DELETE per index table that holds rows of the unions: a union's rows are named with its code, that code and
    /// a kind suffix (<c>:ucum</c>, <c>:of-type</c>, <c>:identifier</c>), or for a composite the code then <c>$i#n</c>.
    /// No other parameter's rows are named so, since a code has no ':' or '$'.
    /// </summary>
    internal static IEnumerable<string> UnionRowsDeletions(IEnumerable<SearchParam> unions)
    {
        var byTable = new SortedDictionary<string, List<(string ResourceType, string Condition)>>(StringComparer.Ordinal);
        foreach (var union in unions)
        {
            var code = Literal(union.Code);
            var condition = union.Components is null
                ? $"param = {code} OR substr(param, 1, {union.Code.Length + 1}) = {Literal(union.Code + ":")}"
                : $"substr(param, 1, {union.Code.Length + 1}) = {Literal(union.Code + "$")}";
            // A reference's identifier rows (:identifier) are tokens.
            IEnumerable<SearchParamType> types = union.Components?.Select(c => c.Type)
                ?? (union.Type == SearchParamType.Reference ? [union.Type, SearchParamType.Token] : [union.Type]);
            foreach (var table in types.Select(Search.SearchSqlBuilder.TableFor).Distinct())
            {
                if (!byTable.TryGetValue(table, out var conditions))
                {
                    byTable[table] = conditions = [];
                }

                conditions.Add((union.ResourceType, condition));
            }
        }

        foreach (var (table, conditions) in byTable)
        {
            foreach (var group in conditions.GroupBy(c => c.ResourceType))
            {
                yield return $"DELETE FROM {table} WHERE resource_type = {Literal(group.Key)} AND ({string.Join(" OR ", group.Select(c => c.Condition))});";
            }
        }

        static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
    }

    public static readonly string[] IndexTableNames = ["idx_string", "idx_token", "idx_date", "idx_number", "idx_quantity", "idx_reference", "idx_uri"];
}
