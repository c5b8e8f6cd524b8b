using Hl7.Fhir.Model;
using Tessera.Identity.NhsNumbers;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mapping;

/// <summary>PID (and PD1) to a UK Core Patient: the source's own record of the person, keyed by its local number.</summary>
internal static class PatientMapping
{
    private const string IdentifierTypeSystem = "http://terminology.hl7.org/CodeSystem/v2-0203";
    private const string NhsNumberOid = "2.16.840.1.113883.2.1.4.1";

    /// <summary>Adds the Patient write for the message's PID and returns it (its key is what other resources reference).</summary>
    public static MappedWrite Map(MappingContext context, MappedMessage mapped)
    {
        var pid = context.Require("PID", "a PID segment (the patient)");
        var patient = new Patient { Meta = MessageMapper.Profile("Patient") };
        var local = LocalIdentifier(context, pid, patient);
        patient.Identifier.Insert(0, local);
        for (var r = 1; r <= V2.Repetitions(pid, 5); r++)
        {
            if (V2.Name(pid, 5, r) is { } name)
            {
                patient.Name.Add(name);
            }
        }

        if (patient.Name.Count == 0)
        {
            throw context.Fail(pid, 5, "the patient name (family^given) is required");
        }

        patient.BirthDate = context.DateTime(pid, 7) is { } born ? born[..Math.Min(10, born.Length)] : null;
        patient.Gender = V2.Value(pid, 8) switch
        {
            null => null,
            "M" => AdministrativeGender.Male,
            "F" => AdministrativeGender.Female,
            "O" or "A" => AdministrativeGender.Other,
            "U" or "N" => AdministrativeGender.Unknown,
            var other => throw context.Fail(pid, 8, $"administrative sex '{other}' is not in HL7 table 0001 (M, F, O, U, A, N)", Hl7ErrorCode.TableValueNotFound),
        };
        for (var r = 1; r <= V2.Repetitions(pid, 11); r++)
        {
            if (V2.Address(pid, 11, r) is { } address)
            {
                patient.Address.Add(address);
            }
        }

        AddTelecom(pid, 13, ContactPoint.ContactPointUse.Home, patient);
        AddTelecom(pid, 14, ContactPoint.ContactPointUse.Work, patient);
        if (context.DateTime(pid, 29) is { } died)
        {
            patient.Deceased = new FhirDateTime(died);
        }
        else if (V2.Value(pid, 30) == "Y")
        {
            patient.Deceased = new FhirBoolean(true);
        }

        if (context.Message.GetSegment("PD1") is { } pd1 && (V2.Value(pd1, 3, 1, 10) ?? V2.Value(pd1, 3, 1, 3)) is { } practice)
        {
            patient.GeneralPractitioner.Add(new ResourceReference { Type = "Organization", Identifier = new Identifier(V2.OdsSystem, practice), Display = V2.Value(pd1, 3, 1, 1) });
        }

        patient.ManagingOrganization = context.Source.OrganizationReference();
        mapped.PatientKey ??= $"{local.System}|{local.Value}";
        return mapped.Add(patient, new Identifier(local.System, local.Value));
    }

    /// <summary>
    /// Reads PID-3 (and PID-2 from older versions): NHS numbers (by assigning authority, identifier type or OID) become
    /// the national identifier; the source's own number is the local identifier the Patient is matched on.
    /// </summary>
    private static Identifier LocalIdentifier(MappingContext context, Hl7Segment pid, Patient patient)
    {
        Identifier? local = null;
        var wanted = context.Source.Options.AssigningAuthority;
        foreach (var (field, repetition) in Candidates(pid))
        {
            var value = V2.Value(pid, field, repetition, 1);
            if (value is null)
            {
                continue;
            }

            var authority = V2.Value(pid, field, repetition, 4, 1);
            var authorityOid = V2.Value(pid, field, repetition, 4, 2);
            var type = V2.Value(pid, field, repetition, 5);
            if (IsNhsNumber(authority, authorityOid, type))
            {
                if (!NhsNumber.TryNormalise(value, out var nhs))
                {
                    throw context.Fail(pid, field, $"'{value}' is given as an NHS number but is not a valid one (10 digits with a correct check digit)", Hl7ErrorCode.DataTypeError);
                }

                if (!patient.Identifier.Any(i => i.System == NhsNumber.System))
                {
                    patient.Identifier.Add(new Identifier(NhsNumber.System, nhs));
                }

                continue;
            }

            var isLocal = local is null && (string.IsNullOrEmpty(wanted) || string.Equals(wanted, authority, StringComparison.OrdinalIgnoreCase));
            if (isLocal)
            {
                local = new Identifier(context.Source.PatientSystem, value)
                {
                    Use = Identifier.IdentifierUse.Usual,
                    Type = new CodeableConcept(IdentifierTypeSystem, type ?? "MR", type is null or "MR" ? "Medical record number" : null, null),
                    Assigner = context.Source.OrganizationReference(),
                };
            }
            else if (patient.Identifier.All(i => i.Value != value))
            {
                patient.Identifier.Add(new Identifier { Value = value, Type = type is null ? null : new CodeableConcept(IdentifierTypeSystem, type), Assigner = authority is null ? null : new ResourceReference { Display = authority } });
            }
        }

        return local ?? throw context.Fail(pid, 3, string.IsNullOrEmpty(wanted)
            ? "the patient's local identifier is required (a PID-3 repetition that is not an NHS number)"
            : $"the patient's local identifier is required (a PID-3 repetition assigned by '{wanted}')");
    }

    public static IEnumerable<(int Field, int Repetition)> Candidates(Hl7Segment pid)
    {
        for (var r = 1; r <= V2.Repetitions(pid, 3); r++)
        {
            yield return (3, r);
        }

        for (var r = 1; r <= V2.Repetitions(pid, 2); r++)
        {
            yield return (2, r);
        }
    }

    public static bool IsNhsNumber(string? authority, string? oid, string? type) =>
        authority?.ToUpperInvariant() is "NHS" or "NHSNBR" or "NHSNMBR" or "NHS NUMBER" or "NHSNO"
        || oid == NhsNumberOid
        || type?.ToUpperInvariant() is "NH" or "NHS" or "NHSN";

    /// <summary>The source-local identifier of another patient given as a CX list (MRG-1 of an A40), or null.</summary>
    public static Identifier? LocalIdentifierIn(MappingContext context, Hl7Segment segment, int field)
    {
        var wanted = context.Source.Options.AssigningAuthority;
        for (var r = 1; r <= V2.Repetitions(segment, field); r++)
        {
            var value = V2.Value(segment, field, r, 1);
            var authority = V2.Value(segment, field, r, 4, 1);
            if (value is null || IsNhsNumber(authority, V2.Value(segment, field, r, 4, 2), V2.Value(segment, field, r, 5)))
            {
                continue;
            }

            if (string.IsNullOrEmpty(wanted) || string.Equals(wanted, authority, StringComparison.OrdinalIgnoreCase))
            {
                return new Identifier(context.Source.PatientSystem, value);
            }
        }

        return null;
    }

    private static void AddTelecom(Hl7Segment pid, int field, ContactPoint.ContactPointUse use, Patient patient)
    {
        for (var r = 1; r <= V2.Repetitions(pid, field); r++)
        {
            if (V2.Telecom(pid, field, r, use) is { } telecom)
            {
                patient.Telecom.Add(telecom);
            }
        }
    }
}
