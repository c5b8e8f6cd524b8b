using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;

namespace Tessera.Governance.Tests.Infrastructure;

public enum Relation
{
    None,
    Registered,
    OpenEncounter,
    FinishedEncounter,
    Episode,
    Referral,
    CareTeam,
    BreakGlass,
}

public enum ConsentState
{
    None,
    OptOut,
    DenyOwnOrg,
    DenyOtherOrg,
    RestrictMentalHealth,
}

/// <summary>One stored resource and what the policy looks at: its patient, labels, recorder and category.</summary>
public sealed record Item(string Type, string Id, string? Patient, string? Source = null, string? Label = null, bool Lab = false, bool BreakGlassNotice = false)
{
    public string Key => $"{Type}/{Id}";

    /// <summary>The security label of each version, oldest first, when the item has several (<see cref="Label"/> is the current one's).</summary>
    public IReadOnlyList<string?>? VersionLabels { get; init; }

    public int Versions => VersionLabels?.Count ?? 1;

    /// <summary>The label that governs a version: its own or a later version's (docs/governance.md, "Consent").</summary>
    public string? LabelOf(int version) => VersionLabels is null ? Label : VersionLabels.Skip(version - 1).FirstOrDefault(l => l is not null);
}

/// <summary>
/// The region of the matrix, generated: one person per (relationship × consent state) combination, each with the same
/// clinical content, plus a citizen, a cared-for person, and a person with two records joined by a master patient.
/// </summary>
public sealed class Region
{
    public const string PsyLabel = "PSY";

    public List<Item> Items { get; } = [];

    /// <summary>patient -> (relation, consent).</summary>
    public Dictionary<string, (Relation Relation, ConsentState Consent)> People { get; } = [];

    /// <summary>patient -> every patient key of the same person.</summary>
    public Dictionary<string, HashSet<string>> PersonOf { get; } = [];

    public static string PatientId(Relation r, ConsentState c) => $"pt-{r}-{c}".ToLowerInvariant();

    public async System.Threading.Tasks.Task SeedAsync(FhirStore store)
    {
        await PutAsync(store, new Organization { Id = "org-a", Name = "Practice A" }, null);
        await PutAsync(store, new Organization { Id = "org-b", Name = "Hospital B" }, null);
        foreach (var p in new[] { "p-gp", "p-nurse", "p-sw", "p-admin", "p-ig" })
        {
            await PutAsync(store, new Practitioner { Id = p }, null);
        }

        foreach (var relation in Enum.GetValues<Relation>())
        {
            foreach (var consent in Enum.GetValues<ConsentState>())
            {
                var id = PatientId(relation, consent);
                People[id] = (relation, consent);
                await PersonAsync(store, id, relation, consent);
            }
        }

        // The citizen's own record, and a second record of the same person joined by a master patient record.
        await PersonAsync(store, "p-citizen", Relation.None, ConsentState.None);
        await PersonAsync(store, "p-citizen-hospital", Relation.None, ConsentState.None);
        // A person with two records: the second has no relationship of its own but shares the person with an encounter.
        await PersonAsync(store, "pt-linked", Relation.None, ConsentState.None);
        var linkedSource = PatientId(Relation.OpenEncounter, ConsentState.None);
        await MasterAsync(store, "m-citizen", "p-citizen", "p-citizen-hospital");
        await MasterAsync(store, "m-linked", linkedSource, "pt-linked");

        // A cared-for person who allowed one carer (RelatedPerson + Consent) but not another (RelatedPerson only).
        await PersonAsync(store, "pt-cared", Relation.None, ConsentState.None);
        await PutAsync(store, new RelatedPerson { Id = "rp-allowed", Patient = new ResourceReference("Patient/pt-cared"), Active = true }, "pt-cared");
        await PutAsync(store, new RelatedPerson { Id = "rp-unallowed", Patient = new ResourceReference("Patient/pt-cared"), Active = true }, "pt-cared");
        await PutAsync(store, new Consent
        {
            Id = "consent-carer",
            Status = Consent.ConsentState.Active,
            Scope = new CodeableConcept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
            Category = [new CodeableConcept("http://loinc.org", "59284-0")],
            Patient = new ResourceReference("Patient/pt-cared"),
            Provision = new Consent.provisionComponent
            {
                Type = Consent.ConsentProvisionType.Permit,
                Actor = [new Consent.provisionActorComponent { Role = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "CAREGIVER"), Reference = new ResourceReference("RelatedPerson/rp-allowed") }],
            },
        }, "pt-cared");

        foreach (var id in People.Keys.Concat(["p-citizen", "p-citizen-hospital", "pt-linked", "pt-cared", "m-citizen", "m-linked"]))
        {
            PersonOf[id] = [id];
        }

        foreach (var group in new[] { new[] { "m-citizen", "p-citizen", "p-citizen-hospital" }, ["m-linked", linkedSource, "pt-linked"] })
        {
            foreach (var id in group)
            {
                PersonOf[id] = [.. group];
            }
        }
    }

    private async System.Threading.Tasks.Task MasterAsync(FhirStore store, string id, params string[] sources)
    {
        var master = new Patient { Id = id, Meta = new Meta { Tag = [new Coding("urn:tessera:mpi", "master")] } };
        foreach (var s in sources)
        {
            master.Link.Add(new Patient.LinkComponent { Other = new ResourceReference($"Patient/{s}"), Type = Patient.LinkType.Seealso });
        }

        await PutAsync(store, master, id);
    }

    private async System.Threading.Tasks.Task PersonAsync(FhirStore store, string id, Relation relation, ConsentState consent)
    {
        var subject = new ResourceReference($"Patient/{id}");
        var patient = new Patient { Id = id, Meta = new Meta { Source = Callers.OrgB }, Name = [new HumanName { Family = "Person", Given = [id] }] };
        if (relation == Relation.Registered)
        {
            patient.GeneralPractitioner = [new ResourceReference(Callers.OrgA)];
        }

        await PutAsync(store, patient, id, Callers.OrgB);
        await PutAsync(store, Observation(id + "-vital", subject, "vital-signs", Callers.OrgB), id, Callers.OrgB);
        await PutAsync(store, Observation(id + "-lab", subject, "laboratory", Callers.OrgB), id, Callers.OrgB, lab: true);
        await PutAsync(store, Observation(id + "-own", subject, "vital-signs", Callers.OrgA), id, Callers.OrgA);

        // meta.source names the recording organisation, optionally followed by "#..." or "/..." (the system within it).
        foreach (var (suffix, source) in new[] { ("-own-feed", Callers.OrgA + "#gp-system"), ("-own-device", Callers.OrgA + "/Device/bp-monitor"), ("-near-org", Callers.OrgA + "b") })
        {
            await PutAsync(store, Observation(id + suffix, subject, "vital-signs", source), id, source);
        }

        var psy = new Condition { Id = id + "-psy", Subject = subject, Meta = new Meta { Source = Callers.OrgB, Security = [new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", PsyLabel)] }, Code = new CodeableConcept("http://snomed.info/sct", "35489007", "Depressive disorder") };
        await PutAsync(store, psy, id, Callers.OrgB, label: PsyLabel);

        // Two versions each: a mental health label the second version dropped, and one the second version added.
        await VersionsAsync(store, id + "-psy-dropped", subject, id, [PsyLabel, null]);
        await VersionsAsync(store, id + "-psy-added", subject, id, [null, PsyLabel]);

        switch (relation)
        {
            case Relation.OpenEncounter or Relation.FinishedEncounter:
                await PutAsync(store, new Encounter
                {
                    Id = id + "-enc",
                    Status = relation == Relation.OpenEncounter ? Encounter.EncounterStatus.InProgress : Encounter.EncounterStatus.Finished,
                    Class = new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"),
                    Subject = subject,
                    ServiceProvider = new ResourceReference(Callers.OrgA),
                }, id);
                break;
            case Relation.Episode:
                await PutAsync(store, new EpisodeOfCare { Id = id + "-eoc", Status = EpisodeOfCare.EpisodeOfCareStatus.Active, Patient = subject, ManagingOrganization = new ResourceReference(Callers.OrgA) }, id);
                break;
            case Relation.Referral:
                await PutAsync(store, new ServiceRequest
                {
                    Id = id + "-ref",
                    Status = RequestStatus.Active,
                    Intent = RequestIntent.Order,
                    Subject = subject,
                    Performer = [new ResourceReference(Callers.OrgA)],
                }, id);
                break;
            case Relation.CareTeam:
                await PutAsync(store, new CareTeam
                {
                    Id = id + "-team",
                    Status = CareTeam.CareTeamStatus.Active,
                    Subject = subject,
                    Participant = [new CareTeam.ParticipantComponent { Member = new ResourceReference("PractitionerRole/pr-gp") }, new CareTeam.ParticipantComponent { Member = new ResourceReference("Practitioner/p-sw") }, new CareTeam.ParticipantComponent { Member = new ResourceReference("Practitioner/p-nurse") }, new CareTeam.ParticipantComponent { Member = new ResourceReference("Practitioner/p-admin") }],
                }, id);
                break;
        }

        if (consent != ConsentState.None)
        {
            var provision = new Consent.provisionComponent { Type = Consent.ConsentProvisionType.Deny };
            switch (consent)
            {
                case ConsentState.DenyOwnOrg:
                    provision.Actor = [new Consent.provisionActorComponent { Role = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"), Reference = new ResourceReference(Callers.OrgA) }];
                    break;
                case ConsentState.DenyOtherOrg:
                    provision.Actor = [new Consent.provisionActorComponent { Role = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"), Reference = new ResourceReference(Callers.OrgB) }];
                    break;
                case ConsentState.RestrictMentalHealth:
                    provision.SecurityLabel = [new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", PsyLabel)];
                    break;
            }

            await PutAsync(store, new Consent
            {
                Id = id + "-consent",
                Status = Consent.ConsentState.Active,
                Scope = new CodeableConcept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
                Category = [new CodeableConcept("http://loinc.org", "59284-0")],
                Patient = subject,
                PolicyRule = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-ActCode", consent == ConsentState.OptOut ? "OPTOUT" : "OPTIN"),
                Provision = provision,
            }, id);
        }
    }

    private static Observation Observation(string id, ResourceReference subject, string category, string source) => new()
    {
        Id = id,
        Meta = new Meta { Source = source },
        Status = ObservationStatus.Final,
        Category = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/observation-category", category)],
        Code = new CodeableConcept("http://loinc.org", category == "laboratory" ? "718-7" : "8867-4"),
        Subject = subject,
    };

    private async System.Threading.Tasks.Task PutAsync(FhirStore store, Resource resource, string? patient, string? source = null, string? label = null, bool lab = false)
    {
        var response = await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"{resource.TypeName}/{resource.Id}", Resource = resource });
        Assert.True(response.Status is 200 or 201, $"{resource.TypeName}/{resource.Id}: {response.Status} {response.Outcome?.Issue.FirstOrDefault()?.Diagnostics}");
        Items.Add(new Item(resource.TypeName, resource.Id!, patient, source, label, lab));
    }

    /// <summary>A Condition written once per label given (null: no label), so that its versions differ in their labels.</summary>
    private async System.Threading.Tasks.Task VersionsAsync(FhirStore store, string id, ResourceReference subject, string patient, string?[] labels)
    {
        foreach (var label in labels)
        {
            var condition = new Condition
            {
                Id = id,
                Subject = subject,
                Meta = new Meta { Source = Callers.OrgB, Security = label is null ? [] : [new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", label)] },
                Code = new CodeableConcept("http://snomed.info/sct", "35489007", "Depressive disorder"),
            };
            var response = await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"Condition/{id}", Resource = condition });
            Assert.True(response.Status is 200 or 201, $"Condition/{id}: {response.Status}");
        }

        Items.Add(new Item("Condition", id, patient, Callers.OrgB, labels[^1]) { VersionLabels = labels });
    }

    /// <summary>Records an item created by the tests themselves (e.g. a break-glass notification).</summary>
    public void Add(Item item) => Items.Add(item);
}
