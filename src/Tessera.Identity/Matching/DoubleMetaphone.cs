using System.Text;

namespace Tessera.Identity.Matching;

/// <summary>
/// Lawrence Philips' Double Metaphone (C/C++ Users Journal, June 2000): a primary and an alternate phonetic key
/// per name, so spellings of one name from different traditions (Smith / Schmidt) share a key. Keys are not
/// truncated: the matcher compares whole keys, and a four-character cut would make long names collide.
/// </summary>
internal static class DoubleMetaphone
{
    public readonly record struct Keys(string Primary, string Alternate)
    {
        public bool SharesKeyWith(Keys other) =>
            Primary.Length > 0 && (Primary == other.Primary || Primary == other.Alternate || Alternate == other.Primary || Alternate == other.Alternate);
    }

    public static Keys Encode(string? word)
    {
        if (string.IsNullOrWhiteSpace(word))
        {
            return new Keys(string.Empty, string.Empty);
        }

        var encoder = new Encoder(word);
        return encoder.Run();
    }

    private sealed class Encoder
    {
        private readonly string value;
        private readonly int length;
        private readonly int last;
        private readonly bool slavoGermanic;
        private readonly StringBuilder primary = new(12);
        private readonly StringBuilder alternate = new(12);

        public Encoder(string word)
        {
            value = word.Trim().ToUpperInvariant();
            length = value.Length;
            last = length - 1;
            slavoGermanic = value.Contains('W') || value.Contains('K') || value.Contains("CZ", StringComparison.Ordinal) || value.Contains("WITZ", StringComparison.Ordinal);
        }

        public Keys Run()
        {
            var current = 0;
            if (At(0, 2, "GN", "KN", "PN", "WR", "PS"))
            {
                current = 1;
            }

            if (CharAt(0) == 'X')
            {
                // Initial X sounds as S (Xavier).
                Add("S");
                current = 1;
            }

            while (current < length)
            {
                var c = CharAt(current);
                switch (c)
                {
                    case 'A' or 'E' or 'I' or 'O' or 'U' or 'Y':
                        if (current == 0)
                        {
                            Add("A");
                        }

                        current++;
                        break;
                    case 'B':
                        Add("P");
                        current += CharAt(current + 1) == 'B' ? 2 : 1;
                        break;
                    case 'Ç':
                        Add("S");
                        current++;
                        break;
                    case 'C':
                        current = HandleC(current);
                        break;
                    case 'D':
                        if (At(current, 2, "DG"))
                        {
                            if (At(current + 2, 1, "I", "E", "Y"))
                            {
                                Add("J");
                                current += 3;
                            }
                            else
                            {
                                Add("TK");
                                current += 2;
                            }
                        }
                        else if (At(current, 2, "DT", "DD"))
                        {
                            Add("T");
                            current += 2;
                        }
                        else
                        {
                            Add("T");
                            current++;
                        }

                        break;
                    case 'F':
                        Add("F");
                        current += CharAt(current + 1) == 'F' ? 2 : 1;
                        break;
                    case 'G':
                        current = HandleG(current);
                        break;
                    case 'H':
                        if ((current == 0 || IsVowel(current - 1)) && IsVowel(current + 1))
                        {
                            Add("H");
                            current += 2;
                        }
                        else
                        {
                            current++;
                        }

                        break;
                    case 'J':
                        current = HandleJ(current);
                        break;
                    case 'K':
                        Add("K");
                        current += CharAt(current + 1) == 'K' ? 2 : 1;
                        break;
                    case 'L':
                        if (CharAt(current + 1) == 'L')
                        {
                            // Spanish -illo/-illa/-alle: the double L is not sounded as L.
                            if ((current == length - 3 && At(current - 1, 4, "ILLO", "ILLA", "ALLE"))
                                || ((At(last - 1, 2, "AS", "OS") || At(last, 1, "A", "O")) && At(current - 1, 4, "ALLE")))
                            {
                                Add("L", string.Empty);
                                current += 2;
                                break;
                            }

                            current += 2;
                        }
                        else
                        {
                            current++;
                        }

                        Add("L");
                        break;
                    case 'M':
                        if ((At(current - 1, 3, "UMB") && (current + 1 == last || At(current + 2, 2, "ER"))) || CharAt(current + 1) == 'M')
                        {
                            current += 2;
                        }
                        else
                        {
                            current++;
                        }

                        Add("M");
                        break;
                    case 'N':
                        Add("N");
                        current += CharAt(current + 1) == 'N' ? 2 : 1;
                        break;
                    case 'Ñ':
                        Add("N");
                        current++;
                        break;
                    case 'P':
                        if (CharAt(current + 1) == 'H')
                        {
                            Add("F");
                            current += 2;
                            break;
                        }

                        current += At(current + 1, 1, "P", "B") ? 2 : 1;
                        Add("P");
                        break;
                    case 'Q':
                        Add("K");
                        current += CharAt(current + 1) == 'Q' ? 2 : 1;
                        break;
                    case 'R':
                        // French final -ier (Rogier) is silent in the primary key.
                        if (current == last && !slavoGermanic && At(current - 2, 2, "IE") && !At(current - 4, 2, "ME", "MA"))
                        {
                            Add(string.Empty, "R");
                        }
                        else
                        {
                            Add("R");
                        }

                        current += CharAt(current + 1) == 'R' ? 2 : 1;
                        break;
                    case 'S':
                        current = HandleS(current);
                        break;
                    case 'T':
                        current = HandleT(current);
                        break;
                    case 'V':
                        Add("F");
                        current += CharAt(current + 1) == 'V' ? 2 : 1;
                        break;
                    case 'W':
                        current = HandleW(current);
                        break;
                    case 'X':
                        // French final -x (Breaux) is silent.
                        if (!(current == last && (At(current - 3, 3, "IAU", "EAU") || At(current - 2, 2, "AU", "OU"))))
                        {
                            Add("KS");
                        }

                        current += At(current + 1, 1, "C", "X") ? 2 : 1;
                        break;
                    case 'Z':
                        if (CharAt(current + 1) == 'H')
                        {
                            // Chinese pinyin Zhao.
                            Add("J");
                            current += 2;
                            break;
                        }

                        if (At(current + 1, 2, "ZO", "ZI", "ZA") || (slavoGermanic && current > 0 && CharAt(current - 1) != 'T'))
                        {
                            Add("S", "TS");
                        }
                        else
                        {
                            Add("S");
                        }

                        current += CharAt(current + 1) == 'Z' ? 2 : 1;
                        break;
                    default:
                        current++;
                        break;
                }
            }

            return new Keys(primary.ToString(), alternate.ToString());
        }

        private int HandleC(int current)
        {
            // Germanic -ach- (Bacher, Macher) is K.
            if (current > 1 && !IsVowel(current - 2) && At(current - 1, 3, "ACH")
                && CharAt(current + 2) != 'I' && (CharAt(current + 2) != 'E' || At(current - 2, 6, "BACHER", "MACHER")))
            {
                Add("K");
                return current + 2;
            }

            if (current == 0 && At(current, 6, "CAESAR"))
            {
                Add("S");
                return current + 2;
            }

            if (At(current, 4, "CHIA"))
            {
                Add("K");
                return current + 2;
            }

            if (At(current, 2, "CH"))
            {
                if (current > 0 && At(current, 4, "CHAE"))
                {
                    Add("K", "X");
                    return current + 2;
                }

                // Greek roots at the start: Charis, Chorus, Chemistry.
                if (current == 0 && (At(current + 1, 5, "HARAC", "HARIS") || At(current + 1, 3, "HOR", "HYM", "HIA", "HEM")) && !At(0, 5, "CHORE"))
                {
                    Add("K");
                    return current + 2;
                }

                if (At(0, 4, "VAN ", "VON ") || At(0, 3, "SCH")
                    || At(current - 2, 6, "ORCHES", "ARCHIT", "ORCHID")
                    || At(current + 2, 1, "T", "S")
                    || ((At(current - 1, 1, "A", "O", "U", "E") || current == 0) && At(current + 2, 1, "L", "R", "N", "M", "B", "H", "F", "V", "W", " ")))
                {
                    Add("K");
                }
                else if (current > 0)
                {
                    if (At(0, 2, "MC"))
                    {
                        Add("K");
                    }
                    else
                    {
                        Add("X", "K");
                    }
                }
                else
                {
                    Add("X");
                }

                return current + 2;
            }

            if (At(current, 2, "CZ") && !At(current - 2, 4, "WICZ"))
            {
                Add("S", "X");
                return current + 2;
            }

            if (At(current + 1, 3, "CIA"))
            {
                Add("X");
                return current + 3;
            }

            if (At(current, 2, "CC") && !(current == 1 && CharAt(0) == 'M'))
            {
                if (At(current + 2, 1, "I", "E", "H") && !At(current + 2, 2, "HU"))
                {
                    // Accident, accede: KS; bellocchio: X.
                    if ((current == 1 && CharAt(current - 1) == 'A') || At(current - 1, 5, "UCCEE", "UCCES"))
                    {
                        Add("KS");
                    }
                    else
                    {
                        Add("X");
                    }

                    return current + 3;
                }

                Add("K");
                return current + 2;
            }

            if (At(current, 2, "CK", "CG", "CQ"))
            {
                Add("K");
                return current + 2;
            }

            if (At(current, 2, "CI", "CE", "CY"))
            {
                if (At(current, 3, "CIO", "CIE", "CIA"))
                {
                    Add("S", "X");
                }
                else
                {
                    Add("S");
                }

                return current + 2;
            }

            Add("K");
            if (At(current + 1, 2, " C", " Q", " G"))
            {
                return current + 3;
            }

            if (At(current + 1, 1, "C", "K", "Q") && !At(current + 1, 2, "CE", "CI"))
            {
                return current + 2;
            }

            return current + 1;
        }

        private int HandleG(int current)
        {
            var next = CharAt(current + 1);
            if (next == 'H')
            {
                if (current > 0 && !IsVowel(current - 1))
                {
                    Add("K");
                    return current + 2;
                }

                if (current == 0)
                {
                    // Ghislane, Ghiradelli.
                    Add(CharAt(current + 2) == 'I' ? "J" : "K");
                    return current + 2;
                }

                // Silent gh after B, H, D (Hugh, bough, broughton).
                if ((current > 1 && At(current - 2, 1, "B", "H", "D"))
                    || (current > 2 && At(current - 3, 1, "B", "H", "D"))
                    || (current > 3 && At(current - 4, 1, "B", "H")))
                {
                    return current + 2;
                }

                // Laugh, McLaughlin, cough, rough: F.
                if (current > 2 && CharAt(current - 1) == 'U' && At(current - 3, 1, "C", "G", "L", "R", "T"))
                {
                    Add("F");
                }
                else if (current > 0 && CharAt(current - 1) != 'I')
                {
                    Add("K");
                }

                return current + 2;
            }

            if (next == 'N')
            {
                if (current == 1 && IsVowel(0) && !slavoGermanic)
                {
                    Add("KN", "N");
                }
                else if (!At(current + 2, 2, "EY") && CharAt(current + 1) != 'Y' && !slavoGermanic)
                {
                    Add("N", "KN");
                }
                else
                {
                    Add("KN");
                }

                return current + 2;
            }

            if (At(current + 1, 2, "LI") && !slavoGermanic)
            {
                Add("KL", "L");
                return current + 2;
            }

            if (current == 0 && (CharAt(current + 1) == 'Y' || At(current + 1, 2, "ES", "EP", "EB", "EL", "EY", "IB", "IL", "IN", "IE", "EI", "ER")))
            {
                Add("K", "J");
                return current + 2;
            }

            if ((At(current + 1, 2, "ER") || CharAt(current + 1) == 'Y')
                && !At(0, 6, "DANGER", "RANGER", "MANGER")
                && !At(current - 1, 1, "E", "I")
                && !At(current - 1, 3, "RGY", "OGY"))
            {
                Add("K", "J");
                return current + 2;
            }

            if (At(current + 1, 1, "E", "I", "Y") || At(current - 1, 4, "AGGI", "OGGI"))
            {
                if (At(0, 4, "VAN ", "VON ") || At(0, 3, "SCH") || At(current + 1, 2, "ET"))
                {
                    Add("K");
                }
                else if (At(current + 1, 4, "IER "))
                {
                    Add("J");
                }
                else
                {
                    Add("J", "K");
                }

                return current + 2;
            }

            Add("K");
            return current + (next == 'G' ? 2 : 1);
        }

        private int HandleJ(int current)
        {
            if (At(current, 4, "JOSE") || At(0, 4, "SAN "))
            {
                if ((current == 0 && CharAt(current + 4) == ' ') || At(0, 4, "SAN "))
                {
                    Add("H");
                }
                else
                {
                    Add("J", "H");
                }

                return current + 1;
            }

            if (current == 0 && !At(current, 4, "JOSE"))
            {
                Add("J", "A");
            }
            else if (IsVowel(current - 1) && !slavoGermanic && (CharAt(current + 1) == 'A' || CharAt(current + 1) == 'O'))
            {
                Add("J", "H");
            }
            else if (current == last)
            {
                Add("J", string.Empty);
            }
            else if (!At(current + 1, 1, "L", "T", "K", "S", "N", "M", "B", "Z") && !At(current - 1, 1, "S", "K", "L"))
            {
                Add("J");
            }

            return current + (CharAt(current + 1) == 'J' ? 2 : 1);
        }

        private int HandleS(int current)
        {
            // Silent s in isle, carlisle.
            if (At(current - 1, 3, "ISL", "YSL"))
            {
                return current + 1;
            }

            if (current == 0 && At(current, 5, "SUGAR"))
            {
                Add("X", "S");
                return current + 1;
            }

            if (At(current, 2, "SH"))
            {
                // Germanic -sheim, -sholm.
                Add(At(current + 1, 4, "HEIM", "HOEK", "HOLM", "HOLZ") ? "S" : "X");
                return current + 2;
            }

            if (At(current, 3, "SIO", "SIA") || At(current, 4, "SIAN"))
            {
                if (slavoGermanic)
                {
                    Add("S");
                }
                else
                {
                    Add("S", "X");
                }

                return current + 3;
            }

            // Anglicised German: Smith/Schmidt, Snider/Schneider share X in the alternate.
            if ((current == 0 && At(current + 1, 1, "M", "N", "L", "W")) || At(current + 1, 1, "Z"))
            {
                Add("S", "X");
                return current + (At(current + 1, 1, "Z") ? 2 : 1);
            }

            if (At(current, 2, "SC"))
            {
                if (CharAt(current + 2) == 'H')
                {
                    // Dutch schoen, schooner; German schmidt.
                    if (At(current + 3, 2, "OO", "ER", "EN", "UY", "ED", "EM"))
                    {
                        if (At(current + 3, 2, "ER", "EN"))
                        {
                            Add("X", "SK");
                        }
                        else
                        {
                            Add("SK");
                        }

                        return current + 3;
                    }

                    if (current == 0 && !IsVowel(3) && CharAt(3) != 'W')
                    {
                        Add("X", "S");
                    }
                    else
                    {
                        Add("X");
                    }

                    return current + 3;
                }

                if (At(current + 2, 1, "I", "E", "Y"))
                {
                    Add("S");
                    return current + 3;
                }

                Add("SK");
                return current + 3;
            }

            // French final -ais, -ois is silent in the primary key.
            if (current == last && At(current - 2, 2, "AI", "OI"))
            {
                Add(string.Empty, "S");
            }
            else
            {
                Add("S");
            }

            return current + (At(current + 1, 1, "S", "Z") ? 2 : 1);
        }

        private int HandleT(int current)
        {
            if (At(current, 4, "TION"))
            {
                Add("X");
                return current + 3;
            }

            if (At(current, 3, "TIA", "TCH"))
            {
                Add("X");
                return current + 3;
            }

            if (At(current, 2, "TH") || At(current, 3, "TTH"))
            {
                // Thomas, Thames and Germanic names keep a hard T.
                if (At(current + 2, 2, "OM", "AM") || At(0, 4, "VAN ", "VON ") || At(0, 3, "SCH"))
                {
                    Add("T");
                }
                else
                {
                    Add("0", "T");
                }

                return current + 2;
            }

            Add("T");
            return current + (At(current + 1, 1, "T", "D") ? 2 : 1);
        }

        private int HandleW(int current)
        {
            if (At(current, 2, "WR"))
            {
                Add("R");
                return current + 2;
            }

            if (current == 0 && (IsVowel(current + 1) || At(current, 2, "WH")))
            {
                // Wasserman may be Vasserman.
                if (IsVowel(current + 1))
                {
                    Add("A", "F");
                }
                else
                {
                    Add("A");
                }
            }

            // Polish -ewski and a final W after a vowel (Tsjechow) may be sounded as F.
            if ((current == last && IsVowel(current - 1)) || At(current - 1, 5, "EWSKI", "EWSKY", "OWSKI", "OWSKY") || At(0, 3, "SCH"))
            {
                Add(string.Empty, "F");
                return current + 1;
            }

            if (At(current, 4, "WICZ", "WITZ"))
            {
                Add("TS", "FX");
                return current + 4;
            }

            return current + 1;
        }

        private char CharAt(int index) => index >= 0 && index < length ? value[index] : '\0';

        private bool IsVowel(int index) => CharAt(index) is 'A' or 'E' or 'I' or 'O' or 'U' or 'Y';

        private bool At(int start, int count, params ReadOnlySpan<string> candidates)
        {
            if (start < 0 || start + count > length)
            {
                return false;
            }

            var slice = value.AsSpan(start, count);
            foreach (var candidate in candidates)
            {
                if (slice.SequenceEqual(candidate))
                {
                    return true;
                }
            }

            return false;
        }

        private void Add(string both) => Add(both, both);

        private void Add(string main, string alt)
        {
            primary.Append(main);
            alternate.Append(alt);
        }
    }
}
