using System.Globalization;

namespace Tessera.Integration.Hl7;

/// <summary>
/// An HL7 v2 batch file (chapter 2, "HL7 batch protocol"): <c>[FHS] {[BHS] {MSH …} [BTS]} [FTS]</c>, or simply
/// messages one after another. Splits it into its messages (each with CR segment endings, ready to be sent or
/// stored on its own) and checks the trailers' counts: BTS-1 is the number of messages in its batch, FTS-1 the
/// number of batches in the file. A count that differs, or a header without its trailer, means the file is
/// incomplete or damaged; every such finding is listed in <see cref="Problems"/>.
/// </summary>
public sealed class Hl7Batch
{
    private Hl7Batch(IReadOnlyList<string> messages, IReadOnlyList<string> problems, bool isBatch)
    {
        Messages = messages;
        Problems = problems;
        IsBatch = isBatch;
    }

    /// <summary>The messages, in file order, each starting with MSH and ending with CR.</summary>
    public IReadOnlyList<string> Messages { get; }

    /// <summary>Why the file's envelope does not add up (empty when it does, and for files of plain messages).</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>Whether the file had a batch envelope (FHS or BHS).</summary>
    public bool IsBatch { get; }

    /// <summary>Splits the text of a batch file or of consecutive messages; CR, LF and CRLF segment endings are accepted.</summary>
    public static Hl7Batch Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var messages = new List<string>();
        var problems = new List<string>();
        var current = new List<string>();
        var separator = '|';
        var isBatch = false;
        var (fileOpen, fileClosed, batchOpen, loose) = (false, false, false, false);
        var (batches, inBatch, line) = (0, 0, 0);

        void EndMessage()
        {
            if (current.Count > 0)
            {
                messages.Add(string.Join('\r', current) + "\r");
                current.Clear();
                inBatch++;
                loose |= !batchOpen;
            }
        }

        string Field(string segment, int n)
        {
            var fields = segment.Split(separator);
            return fields.Length > n ? fields[n].Trim() : string.Empty;
        }

        void CheckCount(string segment, string name, int actual, string what)
        {
            var declared = Field(segment, 1);
            if (declared.Length == 0)
            {
                return;
            }

            if (!int.TryParse(declared, NumberStyles.None, CultureInfo.InvariantCulture, out var count))
            {
                problems.Add($"line {line}: {name}-1 '{declared}' is not a count of {what}.");
            }
            else if (count != actual)
            {
                problems.Add($"line {line}: {name}-1 says {count} {what}, but {actual} {(actual == 1 ? "is" : "are")} there; the file is incomplete or damaged — ask the sender to send it again.");
            }
        }

        foreach (var raw in text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Split('\n'))
        {
            line++;
            var segment = raw.TrimStart('\uFEFF');
            if (segment.Trim().Length == 0)
            {
                continue;
            }

            var id = segment.Length >= 3 ? segment[..3] : segment;
            switch (id)
            {
                case "FHS":
                    EndMessage();
                    if (fileOpen || batches > 0 || messages.Count > 0)
                    {
                        problems.Add($"line {line}: FHS must be the first segment of a file, once.");
                    }

                    (fileOpen, isBatch) = (true, true);
                    separator = segment.Length > 3 ? segment[3] : '|';
                    break;
                case "BHS":
                    EndMessage();
                    if (batchOpen)
                    {
                        problems.Add($"line {line}: BHS opens a batch before the previous one was closed with BTS.");
                        batches++;
                    }

                    (batchOpen, isBatch, inBatch) = (true, true, 0);
                    separator = segment.Length > 3 ? segment[3] : separator;
                    break;
                case "BTS":
                    EndMessage();
                    CheckCount(segment, "BTS", inBatch, "messages in the batch");
                    if (!batchOpen && isBatch && batches > 0)
                    {
                        problems.Add($"line {line}: BTS without a BHS opening its batch.");
                    }

                    (batchOpen, inBatch, loose) = (false, 0, false);
                    batches++;
                    break;
                case "FTS":
                    EndMessage();
                    if (batchOpen)
                    {
                        problems.Add($"line {line}: FTS before the open batch was closed with BTS; the batch may be truncated.");
                        (batchOpen, batches) = (false, batches + 1);
                    }

                    // Messages with no BHS of their own (BHS is optional) form one batch.
                    CheckCount(segment, "FTS", batches + (loose ? 1 : 0), "batches in the file");
                    fileClosed = true;
                    break;
                case "MSH":
                    EndMessage();
                    if (fileClosed)
                    {
                        problems.Add($"line {line}: a message after FTS, the end of the file.");
                    }

                    current.Add(segment);
                    break;
                default:
                    if (current.Count == 0)
                    {
                        problems.Add($"line {line}: segment {id} is outside any message (each message starts with MSH).");
                    }
                    else
                    {
                        current.Add(segment);
                    }

                    break;
            }
        }

        EndMessage();
        if (batchOpen)
        {
            problems.Add("the batch opened by BHS has no BTS trailer: the file may be truncated — ask the sender to send it again.");
        }

        if (fileOpen && !fileClosed)
        {
            problems.Add("the file opened by FHS has no FTS trailer: the file may be truncated — ask the sender to send it again.");
        }

        return new Hl7Batch(messages, problems, isBatch);
    }
}
