using Tessera.RecordStore.Storage;
using Tessera.RecordStore.Tests.Infrastructure;

namespace Tessera.RecordStore.Tests.Machinery;

public class PositionalSqlTests
{
    [Fact]
    public void Names_become_positions_in_order_of_first_use_and_repeat_as_the_same_position()
    {
        var sql = PositionalSql.Rewrite("SELECT 1 FROM t WHERE a = @a AND b IN (@b0, @b1) AND (c IS NULL OR c > @a)");

        Assert.NotNull(sql);
        Assert.Equal("SELECT 1 FROM t WHERE a = $1 AND b IN ($2, $3) AND (c IS NULL OR c > $1)", sql.Text);
        Assert.Equal(["a", "b0", "b1"], sql.Names);
        Assert.Equal(1, sql.PositionOf("@b0"));
        Assert.Equal(2, sql.PositionOf("b1"));
        Assert.Equal(-1, sql.PositionOf("missing"));
    }

    [Fact]
    public void Text_in_quotes_and_comments_and_casts_is_left_alone()
    {
        var sql = PositionalSql.Rewrite("SELECT '@not', 'it''s @no', \"@col\" -- @nor\n, x::text /* @nor */ FROM t WHERE u LIKE @p AND j @> '{}'");

        Assert.NotNull(sql);
        Assert.Equal("SELECT '@not', 'it''s @no', \"@col\" -- @nor\n, x::text /* @nor */ FROM t WHERE u LIKE $1 AND j @> '{}'", sql.Text);
        Assert.Equal(["p"], sql.Names);
    }

    [Theory]
    [InlineData("SELECT 1 WHERE a = @a; SELECT 2")] // several statements
    [InlineData("SELECT $1 WHERE a = @a")] // positional already
    [InlineData("SELECT 1 WHERE a = :a")] // Npgsql's other named form
    [InlineData("SELECT 'open WHERE a = @a")] // unterminated literal
    [InlineData("SELECT 1 /* open WHERE a = @a")] // unterminated comment
    [InlineData("SELECT 1 FROM t")] // no parameter at all
    public void Statements_it_cannot_rewrite_are_left_to_the_named_form(string text) =>
        Assert.Null(PositionalSql.Rewrite(text));

    [Fact]
    public void An_email_like_word_is_not_a_parameter() =>
        Assert.Equal("SELECT 'a' WHERE x = $1 AND y = a@b", PositionalSql.Rewrite("SELECT 'a' WHERE x = @x AND y = a@b")!.Text);
}

public sealed class PostgresSessionTests(StoreFixture stores) : IClassFixture<StoreFixture>
{
    [Fact]
    public async Task Sessions_run_without_jit_and_bind_parameters_by_position()
    {
        var store = stores["postgres"];
        await using var connection = await store.OpenConnectionAsync();
        await using (var show = FhirStore.Command(connection, "SHOW jit"))
        {
            Assert.Equal("off", await show.ExecuteScalarAsync());
        }

        // The same statement through the positional form: repeated names, values of several types, and a null.
        await using var cmd = FhirStore.Command(connection, "SELECT CAST(@a AS text) || '|' || CAST(@b AS bigint) || '|' || CAST(@a AS text) || '|' || COALESCE(CAST(@c AS text), 'null') || '|@a'",
            ("b", 42L), ("@a", "x"), ("c", null), ("unused", 1));
        Assert.Equal("x|42|x|null|@a", await cmd.ExecuteScalarAsync());
        Assert.DoesNotContain("@", cmd.CommandText.Replace("'|@a'", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
    }
}
