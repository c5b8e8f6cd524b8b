using System.Text;
using Tessera.RecordStore.Interactions;

namespace Tessera.RecordStore.Search;

/// <summary>
/// An opaque keyset cursor: the sort key of the row a page starts after (or before), written into the
/// <c>_cursor</c> parameter of paging links. Values are joined with a separator that cannot occur in ids.
/// </summary>
internal static class PageCursor
{
    private const char Separator = '\u001f';

    public static string Encode(params string[] values) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(string.Join(Separator, values))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>Decodes a cursor of exactly <paramref name="count"/> values; a damaged cursor is a 400.</summary>
    public static string[] Decode(string cursor, int count)
    {
        try
        {
            var padded = cursor.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var values = Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split(Separator);
            if (values.Length == count)
            {
                return values;
            }
        }
        catch (FormatException)
        {
            // Reported below.
        }

        throw FhirException.BadRequest("The paging cursor is not valid: follow the bundle's paging links as given.", "_cursor");
    }
}
