using Hl7.Fhir.Model;

namespace Tessera.RecordStore.Serialization;

/// <summary>
/// FHIR strings may hold no control characters but tab, CR and LF (R4 datatypes, string). JSON can escape
/// them (\u0000), so the parser lets them through; this finds the first one with its FHIRPath location.
/// </summary>
internal static class ControlCharacters
{
    public static string? FindInvalid(Base root) => Find(root, root.TypeName);

    private static string? Find(Base node, string path)
    {
        if (node is PrimitiveType { JsonValue: string text } && HasInvalid(text))
        {
            return path;
        }

        foreach (var (name, value) in node.EnumerateElements())
        {
            switch (value)
            {
                case Base child:
                    if (Find(child, child is PrimitiveType && name == "value" ? path : $"{path}.{name}") is { } found)
                    {
                        return found;
                    }

                    break;
                case IEnumerable<Base> children:
                    var i = 0;
                    foreach (var c in children)
                    {
                        if (Find(c, $"{path}.{name}[{i}]") is { } inList)
                        {
                            return inList;
                        }

                        i++;
                    }

                    break;
            }
        }

        return null;
    }

    private static bool HasInvalid(string text)
    {
        foreach (var c in text)
        {
            if (c < 0x20 && c is not ('\t' or '\r' or '\n'))
            {
                return true;
            }
        }

        return false;
    }
}
