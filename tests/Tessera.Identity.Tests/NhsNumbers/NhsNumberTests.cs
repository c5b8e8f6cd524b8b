using Tessera.Identity.NhsNumbers;

namespace Tessera.Identity.Tests.NhsNumbers;

public class NhsNumberTests
{
    [Theory]
    [InlineData("9434765919")] // the NHS Data Dictionary's worked example
    [InlineData("943 476 5919")]
    [InlineData("943-476-5919")]
    [InlineData("9999999999")]
    public void Accepts_valid_numbers(string text)
    {
        Assert.True(NhsNumber.TryNormalise(text, out var n));
        Assert.Equal(10, n.Length);
    }

    [Theory]
    [InlineData("9434765918")] // wrong check digit
    [InlineData("943476591")] // too short
    [InlineData("94347659190")] // too long
    [InlineData("94347659A9")]
    [InlineData("")]
    [InlineData(null)]
    public void Rejects_invalid_numbers(string? text) => Assert.False(NhsNumber.IsValid(text));

    [Fact]
    public void Remainder_giving_eleven_makes_check_digit_zero()
    {
        // A weighted sum divisible by 11 gives 11 - 0 = 11, written as 0.
        var found = FindNineDigits(check => check == 0, sumMod11: 0);
        Assert.Equal(0, NhsNumber.CheckDigit(found));
        Assert.True(NhsNumber.IsValid(found + "0"));
    }

    [Fact]
    public void Remainder_giving_ten_has_no_valid_check_digit()
    {
        var found = FindNineDigits(check => check is null, sumMod11: 1);
        Assert.Null(NhsNumber.CheckDigit(found));
        for (var d = 0; d <= 9; d++)
        {
            Assert.False(NhsNumber.IsValid(found + d));
        }
    }

    private static string FindNineDigits(Func<int?, bool> accept, int sumMod11)
    {
        for (var n = 100_000_000; n < 999_999_999; n += 7)
        {
            var s = n.ToString("D9", System.Globalization.CultureInfo.InvariantCulture);
            var sum = 0;
            for (var i = 0; i < 9; i++)
            {
                sum += (s[i] - '0') * (10 - i);
            }

            if (sum % 11 == sumMod11 && accept(NhsNumber.CheckDigit(s)))
            {
                return s;
            }
        }

        throw new InvalidOperationException("no such number");
    }
}
