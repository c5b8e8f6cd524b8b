using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;
using Tessera.Integration.Pipeline;

namespace Tessera.Integration.Mapping;

/// <summary>A configured sending system with the identifier systems and organisation its messages map to.</summary>
internal sealed class Hl7Source
{
    private Hl7Source(Hl7SourceOptions options)
    {
        Options = options;
        var root = options.IdentifierSystem.TrimEnd('/');
        PatientSystem = string.IsNullOrWhiteSpace(options.PatientIdentifierSystem) ? root + "/local-patient-identifier" : options.PatientIdentifierSystem;
        EncounterSystem = root + "/encounter";
        AdmissionSystem = root + "/admission";
        ReportSystem = root + "/report";
        ObservationSystem = root + "/observation";
        AppointmentSystem = root + "/appointment";
        DocumentSystem = root + "/document";
        MessageSystem = root + "/hl7-message";
        LocationSystem = root + "/location";
        TimeZone = FindZone(options.TimeZone);
    }

    public Hl7SourceOptions Options { get; }

    /// <summary>"APP|FACILITY": the key duplicates are detected under.</summary>
    public static string Key(Hl7Message message) => message.SendingApplication.Trim() + "|" + message.SendingFacility.Trim();

    public string Name => Options.Name ?? $"{Options.Application} at {Options.Facility}";

    public string PatientSystem { get; }

    public string EncounterSystem { get; }

    /// <summary>For stays the sender gives no visit number for: "{local patient number}/{admit time}".</summary>
    public string AdmissionSystem { get; }

    public string ReportSystem { get; }

    public string ObservationSystem { get; }

    public string AppointmentSystem { get; }

    public string DocumentSystem { get; }

    public string MessageSystem { get; }

    public string LocationSystem { get; }

    public TimeZoneInfo TimeZone { get; }

    /// <summary>A reference to the source's organisation, or null when none is configured.</summary>
    public ResourceReference? OrganizationReference()
    {
        if (Options.Organization is null && Options.OdsCode is null)
        {
            return null;
        }

        return new ResourceReference
        {
            Reference = Options.Organization,
            Type = "Organization",
            Identifier = Options.OdsCode is { } ods ? new Identifier(V2.OdsSystem, ods) : null,
            Display = Options.OrganizationName,
        };
    }

    public static IReadOnlyList<Hl7Source> From(IEnumerable<Hl7SourceOptions> options)
    {
        var list = new List<Hl7Source>();
        foreach (var o in options)
        {
            if (string.IsNullOrWhiteSpace(o.Application))
            {
                throw new InvalidOperationException("An HL7 source (Tessera:Hl7:Sources) needs Application: the sending application in MSH-3.");
            }

            if (!Uri.TryCreate(o.IdentifierSystem, UriKind.Absolute, out _))
            {
                throw new InvalidOperationException($"The HL7 source {o.Application}/{o.Facility} needs IdentifierSystem: an absolute URI such as https://fhir.example.nhs.uk/Id.");
            }

            list.Add(new Hl7Source(o));
        }

        return list;
    }

    /// <summary>The source for a message's MSH-3/MSH-4; an exact facility wins over an any-facility entry.</summary>
    public static Hl7Source? Find(IReadOnlyList<Hl7Source> sources, Hl7Message message)
    {
        var app = message.SendingApplication.Trim();
        var facility = message.SendingFacility.Trim();
        Hl7Source? any = null;
        foreach (var s in sources)
        {
            if (!string.Equals(s.Options.Application, app, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (string.Equals(s.Options.Facility, facility, StringComparison.OrdinalIgnoreCase))
            {
                return s;
            }

            if (string.IsNullOrEmpty(s.Options.Facility))
            {
                any ??= s;
            }
        }

        return any;
    }

    private static TimeZoneInfo FindZone(string id)
    {
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (TimeZoneNotFoundException)
        {
            throw new InvalidOperationException($"The HL7 source time zone '{id}' is not known on this machine; give an IANA id such as Europe/London.");
        }
    }
}
