namespace Tessera.Identity.NhsNumbers;

/// <summary>
/// The NHS number rules of the NHS Data Dictionary: ten digits, the tenth a modulus-11 check digit
/// over the first nine weighted 10 down to 2. A remainder giving 11 becomes 0; one giving 10 means the
/// nine digits can never carry a valid number.
/// </summary>
public static class NhsNumber
{
    /// <summary>The FHIR identifier system for NHS numbers (UK Core).</summary>
    public const string System = "https://fhir.nhs.uk/Id/nhs-number";

    /// <summary>The check digit for nine leading digits, or null when no check digit can make them valid.</summary>
    public static int? CheckDigit(ReadOnlySpan<char> nineDigits)
    {
        if (nineDigits.Length != 9)
        {
            throw new ArgumentException("An NHS number's check digit is computed over exactly nine digits.", nameof(nineDigits));
        }

        var sum = 0;
        for (var i = 0; i < 9; i++)
        {
            var c = nineDigits[i];
            if (c is < '0' or > '9')
            {
                throw new ArgumentException("An NHS number holds digits only.", nameof(nineDigits));
            }

            sum += (c - '0') * (10 - i);
        }

        var check = 11 - (sum % 11);
        return check switch
        {
            11 => 0,
            10 => null,
            _ => check,
        };
    }

    /// <summary>Whether the text is a valid NHS number, after removing spaces and hyphens used in display.</summary>
    public static bool IsValid(string? text) => TryNormalise(text, out _);

    /// <summary>
    /// Normalises an NHS number as written by people and systems ("943 476 5919", "943-476-5919") to its ten digits,
    /// returning false when it is not a valid NHS number.
    /// </summary>
    public static bool TryNormalise(string? text, out string normalised)
    {
        normalised = string.Empty;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        Span<char> digits = stackalloc char[10];
        var count = 0;
        foreach (var c in text)
        {
            if (c is ' ' or '-')
            {
                continue;
            }

            if (c is < '0' or > '9' || count == 10)
            {
                return false;
            }

            digits[count++] = c;
        }

        if (count != 10)
        {
            return false;
        }

        var check = CheckDigit(digits[..9]);
        if (check is null || check.Value != digits[9] - '0')
        {
            return false;
        }

        normalised = new string(digits);
        return true;
    }

    /// <summary>Formats ten digits the way NHS screens show them: 3-3-4 separated by spaces.</summary>
    public static string Format(string normalised) =>
        normalised.Length == 10 ? $"{normalised[..3]} {normalised[3..6]} {normalised[6..]}" : normalised;
}
