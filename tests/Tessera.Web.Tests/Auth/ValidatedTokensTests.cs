using System.Security.Claims;
using Microsoft.Extensions.Time.Testing;
using Tessera.Web.Auth;
using Xunit;

namespace Tessera.Web.Tests.Auth;

public sealed class ValidatedTokensTests
{
    private static ClaimsPrincipal Caller(string sub) => new(new ClaimsIdentity([new Claim("sub", sub)], "Bearer"));

    [Fact]
    public void A_validated_token_is_known_until_it_expires_and_never_after()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var tokens = new ValidatedTokens(clock);
        var caller = Caller("gp");
        tokens.Remember("token-a", caller, clock.GetUtcNow().AddMinutes(5));
        Assert.Same(caller, tokens.Find("token-a"));
        Assert.Null(tokens.Find("token-b"));

        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.Null(tokens.Find("token-a"));
        Assert.Equal(0, tokens.Count);
    }

    [Fact]
    public void Tokens_without_a_future_expiry_are_not_remembered()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var tokens = new ValidatedTokens(clock);
        tokens.Remember("no-exp", Caller("a"), null);
        tokens.Remember("past", Caller("b"), clock.GetUtcNow().AddSeconds(-1));
        Assert.Null(tokens.Find("no-exp"));
        Assert.Null(tokens.Find("past"));
    }

    [Fact]
    public void The_cache_stays_within_its_capacity()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var tokens = new ValidatedTokens(clock);
        for (var i = 0; i < ValidatedTokens.Capacity; i++)
        {
            tokens.Remember($"t{i}", Caller("x"), clock.GetUtcNow().AddMinutes(i < 100 ? 1 : 60));
        }

        clock.Advance(TimeSpan.FromMinutes(2));
        tokens.Remember("fresh", Caller("y"), clock.GetUtcNow().AddMinutes(60));
        Assert.Equal(ValidatedTokens.Capacity - 100 + 1, tokens.Count);
        Assert.NotNull(tokens.Find("fresh"));
        Assert.Null(tokens.Find("t5"));
        Assert.NotNull(tokens.Find("t500"));
    }
}
