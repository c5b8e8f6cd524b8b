using System.Globalization;
using Tessera.Integration.Hl7;
using Xunit.Abstractions;

namespace Tessera.Integration.Tests.Hl7;

public sealed class CorpusTests(ITestOutputHelper output)
{
    private static readonly Lazy<(string? Root, IReadOnlyList<Corpus.Input> Inputs, List<string> Skipped)> Loaded = new(() =>
    {
        var root = Corpus.Locate();
        if (root is null)
        {
            return (null, [], []);
        }

        var inputs = Corpus.Load(root, out var skipped);
        return (root, inputs, skipped);
    });

    [Fact]
    public async Task Every_sample_parses_or_is_rejected_naming_segment_and_field_and_round_trips()
    {
        if (!TryGetCorpus(out var inputs))
        {
            return;
        }

        var samples = inputs.Where(i => i.Kind == Corpus.Kind.Sample).ToList();
        var byTypeAndVersion = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var byVersion = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var rejections = new List<string>();
        var failures = new List<string>();
        var accepted = 0;
        var leniencyRoundTrips = 0;

        // A parser that loops would hang the whole run; the guard turns that into a failure.
        var run = Task.Run(() =>
        {
            foreach (var input in samples)
            {
                try
                {
                    var message = Hl7Message.Parse(input.Bytes);
                    accepted++;
                    Count(byTypeAndVersion, $"{message.MessageType}^{message.TriggerEvent}".TrimEnd('^'));
                    Count(byVersion, message.Version);
                    if (!message.ToBytes().AsSpan().SequenceEqual(input.Bytes))
                    {
                        failures.Add($"{input}: serializing the parsed message changed its bytes");
                    }
                }
                catch (Hl7ParseException ex)
                {
                    rejections.Add($"{input}: {ex.Message}");
                    if (!ex.Message.StartsWith(ex.Segment, StringComparison.Ordinal))
                    {
                        failures.Add($"{input}: error does not name the segment: {ex.Message}");
                    }
                }
                catch (Exception ex)
                {
                    failures.Add($"{input}: unexpected {ex.GetType().Name}: {ex.Message}");
                }

                // Round trip holds for everything that is structurally ER7, accepted or not.
                try
                {
                    var lenient = Hl7Message.Parse(input.Bytes, Hl7ParseOptions.Lenient);
                    leniencyRoundTrips++;
                    if (!lenient.ToBytes().AsSpan().SequenceEqual(input.Bytes))
                    {
                        failures.Add($"{input}: lenient round trip changed the bytes");
                    }
                }
                catch (Hl7ParseException)
                {
                }
            }
        });
        await run.WaitAsync(TimeSpan.FromMinutes(2));

        output.WriteLine($"corpus: {samples.Count} sample messages, {accepted} accepted (strict), {rejections.Count} rejected, {leniencyRoundTrips} structurally parseable and round-tripped");
        output.WriteLine("by type: " + string.Join(", ", byTypeAndVersion.Select(kv => $"{kv.Key} {kv.Value}")));
        output.WriteLine("by version: " + string.Join(", ", byVersion.Select(kv => $"{kv.Key} {kv.Value}")));
        foreach (var rejection in rejections)
        {
            output.WriteLine("rejected " + rejection);
        }

        Assert.Empty(failures);
        Assert.True(accepted >= samples.Count * 95 / 100, $"only {accepted} of {samples.Count} corpus messages were accepted");
    }

    [Fact]
    public void The_splitter_finds_every_message_the_inventory_lists()
    {
        if (!TryGetCorpus(out var inputs))
        {
            return;
        }

        var expected = File.ReadAllLines(Path.Combine(Loaded.Value.Root!, "INVENTORY.tsv")).Skip(1)
            .Select(l => l.Split('\t'))
            .Where(p => !p[0].StartsWith("nhapi/BadInputs/", StringComparison.Ordinal) && !p[0].StartsWith("cdc-trusted-intermediary/Test/Message/", StringComparison.Ordinal))
            .ToDictionary(p => p[0], p => int.Parse(p[1], CultureInfo.InvariantCulture));
        var found = inputs.Where(i => i.Kind == Corpus.Kind.Sample).GroupBy(i => i.File).ToDictionary(g => g.Key, g => g.Count());
        var mismatches = expected.Where(kv => found.GetValueOrDefault(kv.Key) != kv.Value)
            .Select(kv => $"{kv.Key}: inventory {kv.Value}, found {found.GetValueOrDefault(kv.Key)}").ToList();
        foreach (var skipped in Loaded.Value.Skipped)
        {
            output.WriteLine("not a message file: " + skipped);
        }

        Assert.Empty(mismatches);
    }

    [Fact]
    public void Fuzzer_inputs_are_rejected_for_the_reason_their_folder_names()
    {
        if (!TryGetCorpus(out var inputs))
        {
            return;
        }

        var failures = new List<string>();
        foreach (var input in inputs.Where(i => i.Kind is Corpus.Kind.ExpectEncodingError or Corpus.Kind.ExpectRejection or Corpus.Kind.ExpectNoException))
        {
            var strict = Outcome(input.Bytes, Hl7ParseOptions.Default, out var strictError);
            var lenient = Outcome(input.Bytes, Hl7ParseOptions.Lenient, out _);
            output.WriteLine($"{input.Kind,-20} {input.File}: {strictError?.Message ?? strict}");
            var ok = input.Kind switch
            {
                // Not ER7 at all: neither mode can read it, and the error says it is the encoding.
                Corpus.Kind.ExpectEncodingError => strictError is { IsEncodingError: true } && lenient == "rejected",
                Corpus.Kind.ExpectRejection => strictError is not null,

                // Structurally ER7: it parses and round-trips; strict checks may still refuse to accept it.
                Corpus.Kind.ExpectNoException => lenient == "round-trips" && strict is "round-trips" or "rejected",
                _ => false,
            };
            if (!ok || strict == "crashed" || lenient == "crashed")
            {
                failures.Add($"{input.File} ({input.Kind}): strict {strict} {strictError?.Message}, lenient {lenient}");
            }
        }

        Assert.Empty(failures);
    }

    [Theory]
    [InlineData("empty.hl7", "MSH: missing segment; message must start with MSH")]
    [InlineData("msh_present_but_missing_all_fields.hl7", "MSH-2: encoding characters are missing")]
    [InlineData("msh_present_but_missing_msh-2.hl7", "MSH-2: ")]
    [InlineData("msh_present_but_missing_msh-9.hl7", "MSH-9: message type is empty")]
    [InlineData("msh_present_but_missing_msh-10.hl7", "MSH-10: control id is empty")]
    [InlineData("msh_present_but_missing_msh-6.hl7", null)]
    [InlineData("msh-12_has_value_2_3.hl7", null)]
    [InlineData("orm_obx-5_is_not_a_numeric_value.hl7", null)]
    public void Negative_header_cases_are_rejected_naming_the_field(string file, string? expectedError)
    {
        if (!TryGetCorpus(out var inputs))
        {
            return;
        }

        var input = inputs.Single(i => i.File == "cdc-trusted-intermediary/Test/Message/" + file);
        Outcome(input.Bytes, Hl7ParseOptions.Default, out var error);
        if (expectedError is null)
        {
            // MSH-6 is optional in HL7 v2, 2.3 is a supported version and OBX-5 types are the mapper's concern.
            Assert.Null(error);
        }
        else
        {
            Assert.NotNull(error);
            Assert.StartsWith(expectedError, error.Message, StringComparison.Ordinal);
        }
    }

    private static string Outcome(byte[] bytes, Hl7ParseOptions options, out Hl7ParseException? error)
    {
        error = null;
        try
        {
            var message = Hl7Message.Parse(bytes, options);
            return message.ToBytes().AsSpan().SequenceEqual(bytes) ? "round-trips" : "changed-bytes";
        }
        catch (Hl7ParseException ex)
        {
            error = ex;
            return "rejected";
        }
        catch (Exception)
        {
            return "crashed";
        }
    }

    private static void Count(SortedDictionary<string, int> counts, string key) =>
        counts[key] = counts.GetValueOrDefault(key) + 1;

    private bool TryGetCorpus(out IReadOnlyList<Corpus.Input> inputs)
    {
        inputs = Loaded.Value.Inputs;
        if (Loaded.Value.Root is null)
        {
            output.WriteLine("SKIPPED: the HL7 v2 corpus was not found at ../shared/corpora/hl7v2 next to the repository root.");
            return false;
        }

        return true;
    }
}
