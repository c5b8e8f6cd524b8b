using System.Text;
using System.Text.Json;
using Hl7.Fhir.Model;
using Tessera.Governance.Policy;
using Tessera.Governance.Relationships;
using Tessera.RecordStore.Access;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;

namespace Tessera.Governance.Audit;

/// <summary>
/// AuditEvents shaped as IHE Basic Audit Log Patterns (BALP): RESTful interaction type and subtype, the user and
/// client agents with the network address, the server as source, the patient and the resources or query as
/// entities, the purpose of use and the outcome.
/// </summary>
internal static class AuditEvents
{
    public const string DicomSystem = "http://dicom.nema.org/resources/ontology/DCM";
    public const string PurposeSystem = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
    public const string GovernanceSystem = "urn:tessera:governance";

    private static readonly Coding RestType = new("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "RESTful Operation");

    /// <summary>
    /// An event ready to append: its id, time (milliseconds since the epoch), the patients it concerns (the trail's
    /// patient index) and its content, the text the hash chain covers. The content of an interaction is a compact
    /// record (<see cref="InteractionRecord"/>) from which the BALP AuditEvent is built when it is read; other events
    /// (break-glass, subject access, sign-in) are stored as their FHIR AuditEvent JSON.
    /// </summary>
    public sealed record Entry(string? GivenId, long Recorded, IReadOnlyList<string> Patients, string Content)
    {
        private string? _id = GivenId;

        /// <summary>
        /// The event's id. An interaction's event is given one only when it is stored as a row of its own: in a batch
        /// row its id is the row's and its place (see <see cref="AuditRows"/>), and most reads' events go to batch rows,
        /// so taking a random time-ordered id for each (a system call here) would be wasted.
        /// </summary>
        public string Id => _id ??= Guid.CreateVersion7(DateTimeOffset.FromUnixTimeMilliseconds(Recorded)).ToString();

        /// <summary>An event given as a FHIR AuditEvent, stored as its JSON.</summary>
        public static Entry Of(AuditEvent ev, IReadOnlyList<string> patients)
        {
            ev.Id ??= Guid.CreateVersion7().ToString();
            return new Entry(ev.Id, (ev.Recorded ?? DateTimeOffset.UtcNow).ToUnixTimeMilliseconds(), patients, FhirSerialization.ToJson(ev));
        }
    }

    public static Entry ForInteraction(AccessRequest access, Caller? caller, AccessDecision decision, AccessOutcome outcome, DateTimeOffset now, string? purpose)
    {
        var patients = new SortedSet<string>(StringComparer.Ordinal);
        var resources = new List<string>();
        if (access.CompartmentPatient is { } cp)
        {
            patients.Add(cp);
        }

        if (access.ResourceType == "Patient" && access.Id is not null)
        {
            patients.Add(access.Id);
        }

        foreach (var (key, value) in access.Request.Query)
        {
            if (key is "patient" or "subject" or "subject:Patient" or "patient:Patient" && (References.Local(value) ?? (value.Contains('/') ? null : "Patient/" + value)) is { } local && local.StartsWith("Patient/", StringComparison.Ordinal))
            {
                patients.Add(local["Patient/".Length..]);
            }
        }

        var response = outcome.Response;
        if (outcome.Succeeded)
        {
            CollectReturned(response, resources, patients);
        }
        else if (access.ResourceType is not null && access.Id is not null)
        {
            resources.Add($"{access.ResourceType}/{access.Id}");
        }

        string? query = null;
        if (access.Interaction is AccessInteraction.Search or AccessInteraction.History || (access.Interaction == AccessInteraction.Operation && access.Request.Query.Count > 0))
        {
            var text = new StringBuilder(access.Request.Path, 128);
            var separator = '?';
            foreach (var (key, value) in access.Request.Query)
            {
                text.Append(separator).Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value));
                separator = '&';
            }

            query = text.ToString();
        }

        // At most 200 entities besides the patients: the resources first, then the query.
        if (resources.Count + (query is null ? 0 : 1) > MaxEntities)
        {
            resources.RemoveRange(MaxEntities, resources.Count - MaxEntities);
            query = null;
        }

        var record = new InteractionRecord
        {
            Agent = Who.Of(caller, access.Principal),
            Address = access.Request.ClientAddress,
            Purpose = purpose,
            Subtype = Subtype(access),
            Operation = access.Operation is null ? null : "$" + access.Operation,
            Action = Action(access.Interaction),
            Status = outcome.Status,
            Reason = outcome.Succeeded ? null : decision.Permitted ? Describe(response.Outcome) : decision.Reason,
            Resources = resources,
            Query = query,
        };
        return new Entry(null, now.ToUnixTimeMilliseconds(), [.. patients], JsonSerializer.Serialize(record, AuditJson.Default.InteractionRecord));
    }

    private const int MaxEntities = 200;

    /// <summary>Whether stored content is a compact interaction record (rather than a FHIR AuditEvent's JSON).</summary>
    private static bool IsCompact(string content) => content.StartsWith(InteractionRecord.Marker, StringComparison.Ordinal);

    /// <summary>The AuditEvent of a stored event: built from a compact interaction record, or parsed from its JSON.</summary>
    public static AuditEvent Restore(string id, long recorded, string patients, string content)
    {
        if (!IsCompact(content))
        {
            return (AuditEvent)FhirSerialization.ParseStored(content);
        }

        var record = JsonSerializer.Deserialize(content, AuditJson.Default.InteractionRecord)
            ?? throw new InvalidOperationException($"AuditEvent/{id}: its stored record is empty.");
        var ev = Base(DateTimeOffset.FromUnixTimeMilliseconds(recorded), record.Agent, record.Address, record.Purpose);
        ev.Id = id;
        ev.Subtype = [new Coding("http://hl7.org/fhir/restful-interaction", record.Subtype, record.Operation)];
        ev.Action = Enum.Parse<AuditEvent.AuditEventAction>(record.Action);
        SetOutcome(ev, record.Status, record.Reason);
        foreach (var p in patients.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            ev.Entity.Add(PatientEntity(p));
        }

        foreach (var reference in record.Resources)
        {
            ev.Entity.Add(ResourceEntity(reference));
        }

        if (record.Query is { } query)
        {
            ev.Entity.Add(new AuditEvent.EntityComponent
            {
                Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
                Role = new Coding("http://terminology.hl7.org/CodeSystem/object-role", "24", "Query"),
                Query = System.Text.Encoding.UTF8.GetBytes(query),
                Description = query,
            });
        }

        return ev;
    }

    /// <summary>A governance event (break-glass, subject access export, sign-in) with its own type code.</summary>
    public static Entry ForGovernanceEvent(string code, string display, Caller? caller, System.Security.Claims.ClaimsPrincipal? principal, string? address, string? patient, string? purpose, string? detail, DateTimeOffset now, bool succeeded = true)
    {
        var ev = Base(now, Who.Of(caller, principal), address, purpose);
        ev.Subtype = [new Coding(GovernanceSystem, code, display)];
        ev.Action = AuditEvent.AuditEventAction.E;
        SetOutcome(ev, succeeded ? 200 : 403, succeeded ? null : detail);
        if (patient is not null)
        {
            ev.Entity.Add(PatientEntity(patient));
        }

        if (detail is not null && succeeded)
        {
            ev.Entity.Add(new AuditEvent.EntityComponent { Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"), Description = detail });
        }

        return Entry.Of(ev, patient is null ? [] : [patient]);
    }

    /// <summary>
    /// A sign-in or token event as DICOM / IHE ATNA "User Authentication" (type 110114, subtype 110122 Login or
    /// 110123 Logout, with Tessera's own code for what exactly happened), outcome 0, 4 (minor) or 8 (serious).
    /// </summary>
    public static Entry ForAuthentication(AuthenticationEvent authentication, DateTimeOffset now)
    {
        var caller = authentication.Principal is { } principal ? Caller.From(principal) : null;
        var ev = Base(now, Who.Of(caller, authentication.Principal), authentication.Address, purpose: null);
        ev.Meta = null;
        ev.Type = new Coding(DicomSystem, "110114", "User Authentication");
        ev.Subtype =
        [
            authentication.Logout ? new Coding(DicomSystem, "110123", "Logout") : new Coding(DicomSystem, "110122", "Login"),
            new Coding(GovernanceSystem, authentication.Kind),
        ];
        ev.Action = AuditEvent.AuditEventAction.E;
        ev.Source.Type = [new Coding("http://terminology.hl7.org/CodeSystem/security-source-type", "6", "Security Server")];
        ev.Outcome = authentication.Outcome switch
        {
            AuthenticationOutcome.Success => AuditEvent.AuditEventOutcome.N0,
            AuthenticationOutcome.MinorFailure => AuditEvent.AuditEventOutcome.N4,
            _ => AuditEvent.AuditEventOutcome.N8,
        };
        ev.OutcomeDesc = authentication.Reason;
        var user = ev.Agent[0];
        if (authentication.UserName is { } name)
        {
            // The name signed in with; for a failed sign-in it is all there is (it may not be a user at all).
            user.Who!.Display = name;
            if (caller is null)
            {
                user.Who.Identifier = new Identifier("urn:tessera:username", name);
            }
        }

        if (caller?.ClientId is null && authentication.ClientId is { } client)
        {
            ev.Agent.Insert(1, new AuditEvent.AgentComponent
            {
                Type = new CodeableConcept(DicomSystem, "110153", "Source Role ID"),
                Who = new ResourceReference { Identifier = new Identifier("urn:tessera:client", client) },
                Requestor = caller is null && authentication.UserName is null,
                Network = user.Network,
            });
        }

        if (authentication.Patient is { } patient)
        {
            ev.Entity.Add(PatientEntity(patient));
        }

        if (authentication.Detail is { } detail)
        {
            ev.Entity.Add(new AuditEvent.EntityComponent { Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"), Description = detail });
        }

        return Entry.Of(ev, authentication.Patient is null ? [] : [authentication.Patient]);
    }

    private static AuditEvent Base(DateTimeOffset now, Who who, string? address, string? purpose)
    {
        var ev = new AuditEvent
        {
            Type = RestType,
            Recorded = now,
            Source = new AuditEvent.SourceComponent
            {
                Site = "Tessera",
                Observer = new ResourceReference { Display = "Tessera record store" },
                Type = [new Coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")],
            },
        };
        ev.Meta = new Meta { Profile = ["https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"] };
        var user = new AuditEvent.AgentComponent
        {
            Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP", "information recipient"),
            Who = new ResourceReference
            {
                Reference = who.FhirUser,
                Identifier = new Identifier("urn:tessera:user", who.Subject),
                Display = who.Role,
            },
            AltId = who.PractitionerRole,
            Requestor = true,
            Role = who.Role is null ? [] : [new CodeableConcept(GovernanceSystem + ":role", who.Role)],
            Network = address is null ? null : new AuditEvent.NetworkComponent { Address = address, Type = AuditEvent.AuditEventAgentNetworkType.N2 },
        };
        if (purpose is not null)
        {
            user.PurposeOfUse = [new CodeableConcept(PurposeSystem, purpose)];
            ev.PurposeOfEvent = [new CodeableConcept(PurposeSystem, purpose)];
        }

        if (who.Organization is { } org)
        {
            user.Policy = [org];
        }

        ev.Agent.Add(user);
        if (who.ClientId is { } client)
        {
            ev.Agent.Add(new AuditEvent.AgentComponent
            {
                Type = new CodeableConcept(DicomSystem, "110153", "Source Role ID"),
                Who = new ResourceReference { Identifier = new Identifier("urn:tessera:client", client) },
                Requestor = false,
                Network = address is null ? null : new AuditEvent.NetworkComponent { Address = address, Type = AuditEvent.AuditEventAgentNetworkType.N2 },
            });
        }

        ev.Agent.Add(new AuditEvent.AgentComponent
        {
            Type = new CodeableConcept(DicomSystem, "110152", "Destination Role ID"),
            Who = new ResourceReference { Display = "Tessera FHIR server" },
            Requestor = false,
        });
        return ev;
    }

    private static void SetOutcome(AuditEvent ev, int status, string? description)
    {
        ev.Outcome = status < 400 ? AuditEvent.AuditEventOutcome.N0 : status < 500 ? AuditEvent.AuditEventOutcome.N4 : AuditEvent.AuditEventOutcome.N8;
        if (status >= 400)
        {
            ev.OutcomeDesc = $"{status} {description}".TrimEnd();
        }
    }

    private static string? Describe(OperationOutcome? outcome) => outcome?.Issue.FirstOrDefault()?.Diagnostics;

    public static AuditEvent.EntityComponent PatientEntity(string id) => new()
    {
        What = new ResourceReference($"Patient/{id}"),
        Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"),
        Role = new Coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient"),
    };

    private static AuditEvent.EntityComponent ResourceEntity(string reference) => new()
    {
        What = new ResourceReference(reference),
        Type = new Coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object"),
        Role = new Coding("http://terminology.hl7.org/CodeSystem/object-role", "4", "Domain Resource"),
    };

    /// <summary>
    /// The resources a response returned (or wrote), with their versions, and their patients: for a version read from
    /// the store, the patient whose compartment it is in (the one the access policy judged it by), stored with it;
    /// otherwise, and for a resource in no patient's compartment, the patient its usual reference elements name.
    /// </summary>
    private static void CollectReturned(FhirResponse response, List<string> resources, SortedSet<string> patients)
    {
        if (response.HasRawBody)
        {
            // A searchset still held as stored JSON: the entries say what they are and whose they are.
            foreach (var e in response.Body!.Entries.Where(e => e.Id is not null && e.ResourceType != "OperationOutcome"))
            {
                resources.Add(e.Version is { } v ? $"{e.ResourceType}/{e.Id}/_history/{v}" : $"{e.ResourceType}/{e.Id}");
                var patient = e.ResourceType == "Patient" ? e.Id : e.PatientKey ?? (e.Json is { } json ? PatientOfJson(json) : PatientOf(e.Materialise()));
                if (patient is not null)
                {
                    patients.Add(patient);
                }
            }

            return;
        }

        if (response.Resource is Bundle bundle)
        {
            foreach (var r in bundle.Entry.Select(e => e.Resource).OfType<Resource>().Where(r => r is not OperationOutcome))
            {
                resources.Add(r.Meta?.VersionId is { } v ? $"{r.TypeName}/{r.Id}/_history/{v}" : $"{r.TypeName}/{r.Id}");
                if (PatientOf(r) is { } p)
                {
                    patients.Add(p);
                }
            }

            return;
        }

        if (response.ResourceType is { } type && response.Id is { } id)
        {
            resources.Add(response.Version is { } v ? $"{type}/{id}/_history/{v}" : $"{type}/{id}");
            var patient = type == "Patient" ? id : response.PatientKey ?? (response.Resource is { } resource and not OperationOutcome ? PatientOf(resource) : response.Json is { } json ? PatientOfJson(json) : null);
            if (patient is not null)
            {
                patients.Add(patient);
            }
        }
    }

    private static readonly string[] PatientElements = ["subject", "patient", "beneficiary", "individual"];

    /// <summary>The patient a resource is about, from its usual top-level reference elements.</summary>
    internal static string? PatientOf(Resource resource)
    {
        if (resource is Patient)
        {
            return resource.Id;
        }

        foreach (var (name, value) in resource.EnumerateElements())
        {
            if (Array.IndexOf(PatientElements, name) >= 0 && value is ResourceReference reference && References.IdOf(reference, "Patient") is { } id)
            {
                return id;
            }
        }

        return null;
    }

    /// <summary>The same from stored JSON, without building the resource.</summary>
    internal static string? PatientOfJson(string json)
    {
        // One forward pass over the resource's top level (a search's every match goes through here): the first of the
        // patient elements, in their order of preference, whose reference names a local Patient.
        var bytes = System.Buffers.ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(json.Length));
        try
        {
            var reader = new Utf8JsonReader(bytes.AsSpan(0, Encoding.UTF8.GetBytes(json, bytes)));
            string? best = null;
            var bestRank = PatientElements.Length;
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var rank = RankOf(ref reader);
                reader.Read();
                if (rank >= 0 && rank < bestRank && reader.TokenType == JsonTokenType.StartObject && LocalPatient(ref reader) is { } found)
                {
                    if (rank == 0)
                    {
                        return found; // the element preferred to all others: nothing later can take its place
                    }

                    (best, bestRank) = (found, rank);
                }
                else
                {
                    reader.Skip();
                }
            }

            return best;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>The place among the patient elements of the property name the reader is on, or -1.</summary>
    private static int RankOf(ref Utf8JsonReader reader)
    {
        for (var i = 0; i < PatientElements.Length; i++)
        {
            if (reader.ValueTextEquals(PatientElements[i]))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The local Patient id a Reference object names (the reader on its start; left on its end), or null.</summary>
    private static string? LocalPatient(ref Utf8JsonReader reader)
    {
        string? patient = null;
        var depth = reader.CurrentDepth;
        while (reader.Read() && !(reader.TokenType == JsonTokenType.EndObject && reader.CurrentDepth == depth))
        {
            if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == depth + 1 && reader.ValueTextEquals("reference"))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String)
                {
                    patient = PatientId(ref reader);
                }
            }
            else if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }

        return patient;
    }

    /// <summary>The Patient id of the reference the reader is on, or null when it names no local Patient.</summary>
    private static string? PatientId(ref Utf8JsonReader reader)
    {
        // "Patient/[id]", as references are mostly written: the id is read straight from the bytes.
        var prefix = "Patient/"u8;
        if (!reader.ValueIsEscaped && !reader.HasValueSequence && reader.ValueSpan is var value
            && value.Length > prefix.Length && value.StartsWith(prefix) && value[prefix.Length..].IndexOfAny("/?#"u8) < 0)
        {
            return Encoding.UTF8.GetString(value[prefix.Length..]);
        }

        return References.Local(reader.GetString()!) is { } local && local.StartsWith("Patient/", StringComparison.Ordinal) ? local["Patient/".Length..] : null;
    }

    private static string Subtype(AccessRequest access) => access.Interaction switch
    {
        AccessInteraction.Read => "read",
        AccessInteraction.VRead => "vread",
        AccessInteraction.Search => access.ResourceType is null ? "search-system" : "search-type",
        AccessInteraction.History => access.Id is not null ? "history-instance" : access.ResourceType is not null ? "history-type" : "history-system",
        AccessInteraction.Create => "create",
        AccessInteraction.Update => "update",
        AccessInteraction.Patch => "patch",
        AccessInteraction.Delete => "delete",
        AccessInteraction.Batch => "batch",
        AccessInteraction.Transaction => "transaction",
        AccessInteraction.Capabilities => "capabilities",
        _ => "operation",
    };

    /// <summary>The AuditEvent.action code (C, R, U, D or E) of an interaction, as the compact record stores it.</summary>
    private static string Action(AccessInteraction interaction) => interaction switch
    {
        AccessInteraction.Create => nameof(AuditEvent.AuditEventAction.C),
        AccessInteraction.Update or AccessInteraction.Patch => nameof(AuditEvent.AuditEventAction.U),
        AccessInteraction.Delete => nameof(AuditEvent.AuditEventAction.D),
        AccessInteraction.Read or AccessInteraction.VRead or AccessInteraction.Search or AccessInteraction.History => nameof(AuditEvent.AuditEventAction.R),
        _ => nameof(AuditEvent.AuditEventAction.E),
    };
}
