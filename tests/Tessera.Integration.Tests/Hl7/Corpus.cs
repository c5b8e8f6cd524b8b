using System.Text;
using System.Xml.Linq;

namespace Tessera.Integration.Tests.Hl7;

/// <summary>
/// Reads the shared HL7 v2 corpus (outside the repository) into single-message inputs, keeping each
/// message's exact bytes so round trips can be compared byte for byte.
/// </summary>
internal static class Corpus
{
    public static string? Locate()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Tessera.slnx")))
        {
            dir = dir.Parent;
        }

        if (dir is null)
        {
            return null;
        }

        var corpus = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "corpora", "hl7v2"));
        return Directory.Exists(corpus) ? corpus : null;
    }

    public enum Kind
    {
        /// <summary>An ordinary sample message.</summary>
        Sample,

        /// <summary>nHapi fuzzer input its parser rejects as not being ER7 at all.</summary>
        ExpectEncodingError,

        /// <summary>nHapi fuzzer input its parser rejects.</summary>
        ExpectRejection,

        /// <summary>nHapi fuzzer input its parser reads without throwing.</summary>
        ExpectNoException,

        /// <summary>A file from a negative MSH test folder: the whole file is one input.</summary>
        HeaderCase,
    }

    public sealed record Input(string File, int Index, Kind Kind, byte[] Bytes)
    {
        public override string ToString() => Index == 0 ? File : $"{File}#{Index}";
    }

    public static IReadOnlyList<Input> Load(string corpus, out List<string> skipped)
    {
        skipped = [];
        var inputs = new List<Input>();
        var files = Directory.EnumerateFiles(corpus, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(corpus, f).Replace('\\', '/'))
            .Where(f => !f.EndsWith("LICENSE.txt", StringComparison.Ordinal) && !Path.GetFileName(f).StartsWith("LICENSE", StringComparison.Ordinal)
                && f is not "INVENTORY.tsv" and not "SOURCE.txt")
            .Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var bytes = File.ReadAllBytes(Path.Combine(corpus, file));
            if (file.StartsWith("nhapi/BadInputs/", StringComparison.Ordinal))
            {
                var kind = file.Split('/')[3] switch
                {
                    "EncodingNotSupportedException" => Kind.ExpectEncodingError,
                    "HL7Exception" => Kind.ExpectRejection,
                    "NoException" => Kind.ExpectNoException,
                    var other => throw new InvalidOperationException($"unknown BadInputs folder {other}"),
                };
                inputs.Add(new Input(file, 0, kind, bytes));
            }
            else if (file.StartsWith("cdc-trusted-intermediary/Test/Message/", StringComparison.Ordinal))
            {
                inputs.Add(new Input(file, 0, Kind.HeaderCase, bytes));
            }
            else if (file.EndsWith(".xml", StringComparison.Ordinal))
            {
                if (!file.StartsWith("openhie-cr-conformance/", StringComparison.Ordinal))
                {
                    skipped.Add(file + " (XML-encoded v2, not ER7)");
                    continue;
                }

                var index = 0;
                foreach (var message in XDocument.Parse(Encoding.UTF8.GetString(bytes)).Descendants("message"))
                {
                    inputs.Add(new Input(file, ++index, Kind.Sample, Encoding.UTF8.GetBytes(message.Value)));
                }
            }
            else
            {
                var messages = Split(bytes);
                if (messages.Count == 0)
                {
                    skipped.Add(file + " (no MSH segment)");
                }

                for (var i = 0; i < messages.Count; i++)
                {
                    inputs.Add(new Input(file, messages.Count == 1 ? 0 : i + 1, Kind.Sample, messages[i]));
                }
            }
        }

        return inputs;
    }

    /// <summary>
    /// Cuts a file into messages: each starts at an MSH line and runs over the segment lines that follow,
    /// stopping at a blank or comment line, a batch envelope segment or the next MSH.
    /// </summary>
    internal static List<byte[]> Split(byte[] bytes)
    {
        // Latin-1 maps bytes to chars one to one, so cutting the text cuts the bytes.
        var text = Encoding.Latin1.GetString(bytes);
        var lines = new List<(int Start, int End)>();
        var position = 0;
        while (position < text.Length)
        {
            var end = text.IndexOfAny(['\r', '\n'], position);
            var next = end < 0 ? text.Length : end + (text[end] == '\r' && end + 1 < text.Length && text[end + 1] == '\n' ? 2 : 1);
            lines.Add((position, next));
            position = next;
        }

        const string bom = "\u00EF\u00BB\u00BF";
        var messages = new List<byte[]>();
        int? start = null;
        var separator = '|';
        var last = 0;
        for (var i = 0; i < lines.Count; i++)
        {
            var line = text[lines[i].Start..lines[i].End].TrimEnd('\r', '\n');
            var bare = i == 0 && line.StartsWith(bom, StringComparison.Ordinal) ? line[bom.Length..] : line;
            var isMsh = bare.StartsWith("MSH", StringComparison.Ordinal) && bare.Length > 3;
            var continues = start is not null && !isMsh && bare.Length >= 3 && (bare.Length == 3 || bare[3] == separator)
                && bare[..3].All(c => char.IsAsciiLetterUpper(c) || char.IsAsciiDigit(c))
                && bare[..3] is not ("BTS" or "FTS" or "BHS" or "FHS");
            if (continues)
            {
                last = lines[i].End;
                continue;
            }

            if (start is not null)
            {
                messages.Add(bytes[start.Value..last]);
                start = null;
            }

            if (isMsh)
            {
                start = lines[i].Start;
                separator = bare[3];
                last = lines[i].End;
            }
        }

        if (start is not null)
        {
            messages.Add(bytes[start.Value..last]);
        }

        return messages;
    }
}
