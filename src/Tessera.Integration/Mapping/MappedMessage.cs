using Hl7.Fhir.Model;

namespace Tessera.Integration.Mapping;

/// <summary>
/// One resource to write by conditional update on its identifier (<c>PUT Type?identifier=system|value</c>), so a
/// repeated or later message updates the same resource. References to other writes of the same message use their
/// <see cref="Key"/> (urn:uuid:...) until those are written.
/// </summary>
internal sealed record MappedWrite(string Key, Resource Resource, Identifier MatchOn)
{
    public string ConditionalUrl => $"{Resource.TypeName}?identifier={Uri.EscapeDataString(MatchOn.System ?? string.Empty)}|{Uri.EscapeDataString(MatchOn.Value ?? string.Empty)}";
}

/// <summary>A person merge (ADT^A40): the retired source patient and the surviving target, by the source's local numbers.</summary>
internal sealed record PatientMerge(Identifier Source, Identifier Target);

/// <summary>What one message becomes: the resources to write, in order, and for A40 the merge to run.</summary>
internal sealed class MappedMessage
{
    public required string Event { get; init; }

    /// <summary>"system|value" of the patient the message is about; messages for one patient are processed in arrival order.</summary>
    public string? PatientKey { get; set; }

    public List<MappedWrite> Writes { get; } = [];

    public PatientMerge? Merge { get; set; }

    public static string NewKey() => "urn:uuid:" + Guid.NewGuid().ToString("D");

    public MappedWrite Add(Resource resource, Identifier matchOn)
    {
        var write = new MappedWrite(NewKey(), resource, matchOn);
        Writes.Add(write);
        return write;
    }
}
