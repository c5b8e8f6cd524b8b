using System.Buffers;
using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Serialization;

namespace Tessera.RecordStore;

/// <summary>
/// A searchset bundle kept as its envelope and its entries' stored JSON, so that a JSON response can be written by
/// splicing what the store holds instead of parsing every entry into the model and serialising it again (for a
/// patient's 400-resource <c>$everything</c> the parse and the second serialisation were most of the time).
/// Anything that needs the bundle as an object gets it from <see cref="FhirResponse.Resource"/>, built once on
/// first use from the entries as they stand then; after that the object is the truth and this body is not used.
/// </summary>
public sealed class SearchBody
{
    internal SearchBody(Bundle envelope, List<SearchBodyEntry> entries)
    {
        Envelope = envelope;
        Entries = entries;
    }

    /// <summary>The bundle without its entries: id, meta, type, total and links.</summary>
    internal Bundle Envelope { get; }

    /// <summary>The entries in order; a caller that must hide some removes them here before the body is written.</summary>
    public List<SearchBodyEntry> Entries { get; }

    /// <summary>The bundle as an object: every stored entry parsed.</summary>
    internal Bundle ToBundle()
    {
        var bundle = (Bundle)Envelope.DeepCopy();
        foreach (var entry in Entries)
        {
            bundle.Entry.Add(new Bundle.EntryComponent
            {
                FullUrl = entry.FullUrl,
                Resource = entry.Materialise(),
                Search = new Bundle.SearchComponent { Mode = entry.Mode },
            });
        }

        return bundle;
    }

    /// <summary>The bundle as compact JSON, with each stored entry's JSON copied as it is.</summary>
    public byte[] ToJsonUtf8()
    {
        var buffer = new ArrayBufferWriter<byte>(4096 + Entries.Sum(e => e.Json?.Length ?? 0));
        var envelope = FhirSerialization.ToJson(Envelope);
        if (Entries.Count == 0)
        {
            Encoding.UTF8.GetBytes(envelope, buffer);
            return buffer.WrittenSpan.ToArray();
        }

        // The envelope's own JSON, less its closing brace, then the entries: Bundle.entry follows Bundle.link and
        // is the last element a searchset carries, so the order of elements stays the one FHIR's JSON uses.
        var open = envelope.AsSpan().TrimEnd();
        Encoding.UTF8.GetBytes(open[..^1], buffer);
        buffer.Write(",\"entry\":"u8);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartArray();
            foreach (var entry in Entries)
            {
                writer.WriteStartObject();
                if (entry.FullUrl is not null)
                {
                    writer.WriteString("fullUrl"u8, entry.FullUrl);
                }

                writer.WritePropertyName("resource"u8);
                writer.WriteRawValue(entry.Json ?? FhirSerialization.ToJson(entry.Resource!), skipInputValidation: true);
                writer.WriteStartObject("search"u8);
                writer.WriteString("mode"u8, entry.Mode switch
                {
                    Bundle.SearchEntryMode.Match => "match",
                    Bundle.SearchEntryMode.Include => "include",
                    _ => "outcome",
                });
                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        buffer.Write("}"u8);
        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>One entry of a <see cref="SearchBody"/>: stored JSON, or a resource built for the response (a summary, an outcome).</summary>
public sealed class SearchBodyEntry
{
    private Resource? _resource;

    internal SearchBodyEntry(string? fullUrl, string resourceType, string? id, long? version, Bundle.SearchEntryMode mode, string? json, Resource? resource, string? patientKey = null)
    {
        PatientKey = patientKey;
        FullUrl = fullUrl;
        ResourceType = resourceType;
        Id = id;
        Version = version;
        Mode = mode;
        Json = json;
        _resource = resource;
    }

    public string? FullUrl { get; }

    public string ResourceType { get; }

    public string? Id { get; }

    /// <summary>The version returned, when the entry is a stored resource.</summary>
    public long? Version { get; }

    /// <summary>The patient whose compartment the stored version is in, as stored with it (null for one in none, and for an outcome).</summary>
    public string? PatientKey { get; }

    public Bundle.SearchEntryMode Mode { get; }

    /// <summary>The stored JSON, written as it is; null when the entry is a resource built for the response.</summary>
    public string? Json { get; }

    /// <summary>The resource as an object, when it was built for the response or has been parsed.</summary>
    public Resource? Resource => _resource;

    /// <summary>The resource as an object, parsed from the stored JSON on first use.</summary>
    public Resource Materialise() => _resource ??= FhirSerialization.ParseStored(Json!);
}
