using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mapping;

/// <summary>SIU^S12 (new), S13 (rescheduled), S14 (modified) and S15 (cancelled) to an Appointment, keyed by the filler's appointment id.</summary>
internal static class AppointmentMapping
{
    public static void Map(MappingContext context, MappedMessage mapped)
    {
        var sch = context.Require("SCH", "an SCH segment (the appointment)");
        var patient = PatientMapping.Map(context, mapped);
        var id = V2.Value(sch, 2) ?? V2.Value(sch, 1) ?? throw context.Fail(sch, 2, "the filler appointment id (SCH-2) or placer appointment id (SCH-1) is required");
        var ais = context.Message.GetSegment("AIS");
        var status = context.Trigger == "S15" ? Appointment.AppointmentStatus.Cancelled : V2.Value(sch, 25) switch
        {
            null or "Booked" or "BOOKED" => Appointment.AppointmentStatus.Booked,
            "Cancelled" or "Deleted" => Appointment.AppointmentStatus.Cancelled,
            "Complete" => Appointment.AppointmentStatus.Fulfilled,
            "Noshow" => Appointment.AppointmentStatus.Noshow,
            "Pending" or "Overbook" => Appointment.AppointmentStatus.Pending,
            "Waitlist" => Appointment.AppointmentStatus.Waitlist,
            "Started" or "Dc" => Appointment.AppointmentStatus.Arrived,
            "Blocked" => Appointment.AppointmentStatus.Booked,
            var other => throw context.Fail(sch, 25, $"filler status '{other}' is not in HL7 table 0278", Hl7ErrorCode.TableValueNotFound),
        };

        var start = StartEnd(context, sch, 4) ?? context.Instant(ais, 4);
        var end = StartEnd(context, sch, 5);
        var minutes = Duration(ais, 7, 8) ?? Duration(sch, 9, 10);
        if (end is null && start is not null && minutes is not null)
        {
            end = start.Value.AddMinutes(minutes.Value);
        }

        if (start is null && status is not (Appointment.AppointmentStatus.Cancelled or Appointment.AppointmentStatus.Waitlist or Appointment.AppointmentStatus.Proposed))
        {
            throw context.Fail(sch, 11, "the appointment start (SCH-11.4 or AIS-4) is required for a booked appointment");
        }

        var appointment = new Appointment
        {
            Meta = MessageMapper.Profile("Appointment"),
            Identifier = [new Identifier(context.Source.AppointmentSystem, id)],
            Status = status,
            Start = start,
            End = end,
            MinutesDuration = minutes,
            AppointmentType = V2.Concept(sch, 8),
            Description = V2.Value(sch, 7, 1, 2) ?? V2.Value(sch, 7, 1, 1),
            Created = context.DateTime(context.Message.GetSegment("EVN"), 2) is { } created ? created[..Math.Min(10, created.Length)] : null,
        };
        if (V2.Concept(sch, 7) is { } reason)
        {
            appointment.ReasonCode.Add(reason);
        }

        if (status == Appointment.AppointmentStatus.Cancelled)
        {
            appointment.CancelationReason = V2.Concept(sch, 6);
        }

        if (V2.Concept(ais, 3) is { } service)
        {
            appointment.ServiceType.Add(service);
        }

        appointment.Participant.Add(new Appointment.ParticipantComponent
        {
            Actor = new ResourceReference(patient.Key),
            Required = Appointment.ParticipantRequired.Required,
            Status = ParticipationStatus.Accepted,
        });
        foreach (var aip in context.Message.GetSegments("AIP"))
        {
            if (V2.Person(aip, 3) is { } person)
            {
                appointment.Participant.Add(new Appointment.ParticipantComponent { Actor = person, Type = V2.Concept(aip, 4) is { } role ? [role] : [], Status = ParticipationStatus.Accepted });
            }
        }

        foreach (var ail in context.Message.GetSegments("AIL"))
        {
            if (V2.Location(ail, 3) is { } place)
            {
                appointment.Participant.Add(new Appointment.ParticipantComponent { Actor = new ResourceReference { Type = "Location", Display = place, Identifier = new Identifier(context.Source.LocationSystem, place) }, Status = ParticipationStatus.Accepted });
            }
        }

        var notes = context.Message.GetSegments("NTE").Select(n => V2.Value(n, 3)).Where(t => t is not null).ToList();
        appointment.Comment = notes.Count == 0 ? null : string.Join("\n", notes);
        mapped.Add(appointment, new Identifier(context.Source.AppointmentSystem, id));
    }

    private static DateTimeOffset? StartEnd(MappingContext context, Hl7Segment sch, int component)
    {
        try
        {
            return V2.Instant(V2.Value(sch, 11, 1, component), context.Source.TimeZone);
        }
        catch (FormatException e)
        {
            throw context.Fail(sch, 11, e.Message, Hl7ErrorCode.DataTypeError);
        }
    }

    /// <summary>A duration and its units (ISO+ / ANSI codes: s, min, h; default minutes) in whole minutes.</summary>
    private static int? Duration(Hl7Segment? segment, int field, int unitsField)
    {
        if (!decimal.TryParse(V2.Value(segment, field), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }

        return (V2.Value(segment, unitsField)?.ToLowerInvariant()) switch
        {
            "s" or "sec" or "seconds" => (int)Math.Round(value / 60),
            "h" or "hr" or "hours" => (int)Math.Round(value * 60),
            _ => (int)Math.Round(value),
        };
    }
}
