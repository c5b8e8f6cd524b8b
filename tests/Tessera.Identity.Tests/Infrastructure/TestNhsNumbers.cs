using Tessera.Identity.NhsNumbers;

namespace Tessera.Testing;

/// <summary>Random valid NHS numbers for tests (shared by the test projects that need them).</summary>
internal static class TestNhsNumbers
{
    /// <summary>A valid NHS number: nine random digits that admit a check digit, and that digit.</summary>
    public static string New(Random random)
    {
        while (true)
        {
            var nine = string.Concat(Enumerable.Range(0, 9).Select(_ => (char)('0' + random.Next(10))));
            if (NhsNumber.CheckDigit(nine) is { } check)
            {
                return nine + check;
            }
        }
    }
}
