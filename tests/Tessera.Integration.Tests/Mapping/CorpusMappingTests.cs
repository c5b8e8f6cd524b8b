using Tessera.Integration.Hl7;
using Tessera.Integration.Mapping;
using Tessera.Integration.Pipeline;
using Tessera.Integration.Tests.Hl7;
using Xunit.Abstractions;

namespace Tessera.Integration.Tests.Mapping;

/// <summary>
/// Every real-world sample in the shared corpus that parses is mapped, or refused (AR for a type Tessera does not
/// take, AE naming segment and field for content it cannot use) — never a fault inside the mapping.
/// </summary>
public sealed class CorpusMappingTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_parsed_corpus_message_is_mapped_or_refused_with_a_reason()
    {
        var root = Corpus.Locate();
        if (root is null)
        {
            output.WriteLine("SKIPPED: the HL7 v2 corpus was not found at ../shared/corpora/hl7v2 next to the repository root.");
            return;
        }

        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var faults = new List<string>();
        foreach (var input in Corpus.Load(root, out _).Where(i => i.Kind == Corpus.Kind.Sample))
        {
            if (!TryParse(input.Bytes, out var message))
            {
                continue;
            }

            var key = $"{message.MessageType}^{message.TriggerEvent}";
            if (MessageMapper.Unsupported(message) is not null)
            {
                Count(outcomes, $"{key} AR");
                continue;
            }

            var source = Hl7Source.From([new Hl7SourceOptions { Application = message.SendingApplication, Facility = message.SendingFacility, IdentifierSystem = "https://corpus.example.org/Id" }])[0];
            try
            {
                var mapped = MessageMapper.Map(message, source);
                Assert.True(mapped.Writes.Count > 0 || mapped.Merge is not null, $"{input} mapped to nothing");
                Count(outcomes, $"{key} mapped");
            }
            catch (Hl7MappingException e)
            {
                Assert.NotNull(e.SegmentId);
                Count(outcomes, $"{key} AE");
                output.WriteLine($"AE {input}: {e.Message}");
            }
            catch (Exception e)
            {
                faults.Add($"{input}: {e.GetType().Name}: {e.Message}");
            }
        }

        foreach (var (outcome, n) in outcomes)
        {
            output.WriteLine($"{outcome}: {n}");
        }

        Assert.Empty(faults);
        Assert.Contains(outcomes, o => o.Key.StartsWith("ADT^A01", StringComparison.Ordinal) && o.Key.EndsWith("mapped", StringComparison.Ordinal));
        Assert.Contains(outcomes, o => o.Key.StartsWith("ORU^R01", StringComparison.Ordinal) && o.Key.EndsWith("mapped", StringComparison.Ordinal));
    }

    private static bool TryParse(byte[] bytes, out Hl7Message message)
    {
        try
        {
            message = Hl7Message.Parse(bytes);
            return true;
        }
        catch (Hl7ParseException)
        {
            message = null!;
            return false;
        }
    }

    private static void Count(SortedDictionary<string, int> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;
}
