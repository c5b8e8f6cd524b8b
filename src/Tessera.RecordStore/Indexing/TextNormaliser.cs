using System.Globalization;
using System.Text;

namespace Tessera.RecordStore.Indexing;

/// <summary>FHIR string search is case- and accent-insensitive: both sides are folded the same way.</summary>
public static class TextNormaliser
{
    public static string Normalise(string value)
    {
        var decomposed = value.Normalize(NormalizationForm.FormD);
        var sb = new StringBuilder(decomposed.Length);
        foreach (var c in decomposed)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) != UnicodeCategory.NonSpacingMark)
            {
                sb.Append(char.ToLowerInvariant(c));
            }
        }

        return sb.ToString().Normalize(NormalizationForm.FormC).Trim();
    }
}
