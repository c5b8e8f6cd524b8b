using Microsoft.Data.Sqlite;
using Tessera.Governance.Policy;

namespace Tessera.Governance.Tests.Policy;

/// <summary>
/// Folding the constants out of a row predicate's text keeps its meaning: generated expressions are evaluated by
/// SQLite before and after, for every assignment of their operands; and the predicates the policy writes lose exactly
/// what their constants decide.
/// </summary>
public sealed class SqlLogicTests
{
    [Theory]
    [InlineData("1 = 1", "1 = 1")]
    [InlineData("1 = 0 OR 1 = 1", "1 = 1")]
    [InlineData("a = 1 AND 1 = 1", "a = 1")]
    [InlineData("a = 1 AND 1 = 0", "1 = 0")]
    [InlineData("((1 = 0 OR (1 = 1 AND NOT ((1 = 0 AND EXISTS (SELECT 1 FROM t WHERE t.k = r.k AND t.x IS NOT NULL)) AND NOT EXISTS (SELECT 1 FROM u)))) OR 1 = 0)", "1 = 1")]
    [InlineData("(1 = 0 OR (1 = 1 AND NOT ((1 = 1 AND EXISTS (SELECT 1 FROM t WHERE a AND b)) AND NOT EXISTS (SELECT 1 FROM u))))", "NOT (EXISTS (SELECT 1 FROM t WHERE a AND b) AND NOT EXISTS (SELECT 1 FROM u))")]
    [InlineData("NOT (1 = 0)", "1 = 1")]
    [InlineData("NOT NOT a = 1", "a = 1")]
    [InlineData("NOT (a = 1 OR b = 1)", "NOT (a = 1 OR b = 1)")]
    [InlineData("(a = 1 OR (b = 1 OR c = 1)) AND (d = 1)", "(a = 1 OR b = 1 OR c = 1) AND d = 1")]
    [InlineData("{r}.patient_key IS NOT NULL AND {r}.resource_type NOT IN ('Patient', 'Consent')", "{r}.patient_key IS NOT NULL AND {r}.resource_type NOT IN ('Patient', 'Consent')")]
    [InlineData("x = 'it''s (1 = 0) OR' OR 1 = 0", "x = 'it''s (1 = 0) OR'")]
    public void Folds_constants(string predicate, string simplified) =>
        Assert.Equal(simplified, SqlLogic.Simplify(predicate));

    [Theory]
    [InlineData("a BETWEEN 1 AND 2 OR 1 = 0")]
    [InlineData("(a = 1 OR 1 = 0")]
    [InlineData("a = 1) OR (1 = 0")]
    [InlineData("x = 'open OR 1 = 0")]
    [InlineData("a = 1 AND OR 1 = 0")]
    public void Leaves_text_it_cannot_read_as_it_is(string predicate) =>
        Assert.Equal(predicate, SqlLogic.Simplify(predicate));

    /// <summary>Random expressions over four columns and the two constants, checked by SQLite on all 16 rows.</summary>
    [Fact]
    public void Keeps_the_meaning_of_generated_expressions()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        var random = new Random(20261204);
        var folded = 0;
        for (var n = 0; n < 400; n++)
        {
            var predicate = Expression(random, depth: 4);
            var simplified = SqlLogic.Simplify(predicate);
            if (simplified.Length < predicate.Length)
            {
                folded++;
            }

            Assert.Equal(TruthTable(connection, predicate), TruthTable(connection, simplified));
            // A constant is left only when it is the whole predicate.
            Assert.True(simplified is SqlLogic.True or SqlLogic.False || !(simplified.Contains("1 = 0", StringComparison.Ordinal) || simplified.Contains("1 = 1", StringComparison.Ordinal)), simplified);
        }

        Assert.True(folded > 200, $"only {folded} of 400 expressions had a constant to fold");
    }

    private static string Expression(Random random, int depth)
    {
        var pick = random.Next(depth == 0 ? 3 : 7);
        return pick switch
        {
            0 => random.Next(2) == 0 ? "1 = 1" : "1 = 0",
            1 => $"c{random.Next(4)} > 0",
            2 => $"EXISTS (SELECT 1 WHERE c{random.Next(4)} < 1 AND c{random.Next(4)} > 0)",
            3 => $"NOT {Wrap(Expression(random, depth - 1))}",
            4 or 5 => string.Join(pick == 4 ? " AND " : " OR ", Enumerable.Range(0, random.Next(2, 4)).Select(_ => Wrap(Expression(random, depth - 1)))),
            _ => $"({Expression(random, depth - 1)})",
        };
    }

    private static string Wrap(string expression) => $"({expression})";

    private static string TruthTable(SqliteConnection connection, string predicate)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"WITH b(v) AS (VALUES (0), (1)) SELECT group_concat(CASE WHEN {predicate} THEN 'T' ELSE 'F' END, '') FROM (SELECT b0.v AS c0, b1.v AS c1, b2.v AS c2, b3.v AS c3 FROM b b0, b b1, b b2, b b3 ORDER BY 1, 2, 3, 4)";
        return (string)command.ExecuteScalar()!;
    }
}
