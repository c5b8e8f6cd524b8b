using Hl7.Fhir.Model;
using Tessera.Demo.Clinical;
using Tessera.Demo.Fhir;
using Tessera.Demo.People;
using Tessera.Demo.Randomness;

namespace Tessera.Demo.Region;

/// <summary>A member of staff: a Practitioner and the PractitionerRole they hold at one organisation.</summary>
internal sealed record Staff(string PractitionerId, string RoleId, string Name, string OrganisationId);

/// <summary>A Location with the organisation that runs it.</summary>
internal sealed record Site(string LocationId, string Name, string OrganisationId);

internal sealed record Practice(string OrganisationId, string OdsCode, string Name, Town Town, Site Surgery, IReadOnlyList<Staff> Gps, IReadOnlyList<Staff> Nurses);

/// <summary>An outpatient clinic or ward of the acute trust with the specialty that runs it.</summary>
internal sealed record Unit(Site Site, string SpecialtyCode, string SpecialtyDisplay, IReadOnlyList<Staff> Clinicians);

/// <summary>A service outside the acute trust: where it runs, who runs it and its staff.</summary>
internal sealed record Team(string OrganisationId, string OrganisationName, string ServiceId, Site Site, IReadOnlyList<Staff> Staff);

/// <summary>
/// The health and social care organisations of Tessvale, their sites, services and staff, and the shared
/// Medication resources hospital prescribing points at. Every resource has a fixed id so that people's bundles
/// can reference it as Type/id; the set scales with the population (about one GP practice per 8,000 people,
/// one community pharmacy per 5,000) and is otherwise the same for any seed.
/// </summary>
internal sealed class RegionDirectory
{
    public const string AcuteTrustId = "tv-acute-trust";
    public const string CommunityTrustId = "tv-community-trust";
    public const string MentalHealthTrustId = "tv-mental-health-trust";
    public const string CouncilId = "tv-county-council";
    public const string HospiceId = "tv-hospice";
    public const string AmbulanceId = "tv-ambulance-service";
    public const string Nhs111Id = "tv-nhs-111";
    public const string AdultSocialCareServiceId = "tv-hs-adult-social-care";
    public const string ChildrenSocialCareServiceId = "tv-hs-childrens-social-care";

    public const string AcuteTrustName = "Tessvale Hospitals NHS Foundation Trust";
    public const string CommunityTrustName = "Tessvale Community Health NHS Trust";
    public const string MentalHealthTrustName = "Tessvale Mental Health NHS Foundation Trust";
    public const string CouncilName = "Tessvale County Council";
    public const string HospiceName = "Vale Hospice";
    public const string AmbulanceName = "Tessvale Ambulance Service NHS Trust";
    public const string Nhs111Name = "Tessvale Integrated Urgent Care (NHS 111)";

    private readonly List<Resource> _resources = [];
    private readonly Dictionary<string, Location.PositionComponent> _positions = new(StringComparer.Ordinal);
    private readonly DemoRandom _rng;

    public RegionDirectory(int seed, int population)
    {
        // Staff names come from their own stream so that the region's shape never depends on the people.
        _rng = DemoRandom.For(seed, 1, 0);
        var practiceCount = Math.Max(1, (int)Math.Round(population / 8000.0, MidpointRounding.AwayFromZero));
        var practices = new List<Practice>();
        for (var i = 0; i < practiceCount; i++)
        {
            practices.Add(AddPractice(i, Geography.Towns[i % Geography.Towns.Length], Math.Max(1, population / practiceCount)));
        }

        Practices = practices;
        BuildAcuteTrust();
        BuildCommunityTrust();
        BuildMentalHealthTrust();
        BuildCouncil();
        BuildHospiceAmbulanceAnd111();
        BuildPharmaciesAndVoluntarySector(population);
        BuildFormulary();
    }

    public IReadOnlyList<Resource> Resources => _resources;

    public IReadOnlyList<Practice> Practices { get; }

    public Site EmergencyDepartment { get; private set; } = null!;

    public IReadOnlyList<Staff> EmergencyDoctors { get; private set; } = [];

    public IReadOnlyList<Staff> EmergencyNurses { get; private set; } = [];

    public IReadOnlyList<Unit> Wards { get; private set; } = [];

    public IReadOnlyList<Unit> Clinics { get; private set; } = [];

    public IReadOnlyList<Staff> AdultSocialWorkers { get; private set; } = [];

    public IReadOnlyList<Staff> ChildrenSocialWorkers { get; private set; } = [];

    public Site CountyHall { get; private set; } = null!;

    public Site HospiceInpatientUnit { get; private set; } = null!;

    public IReadOnlyList<Staff> HospiceStaff { get; private set; } = [];

    public Team DistrictNursing { get; private set; } = null!;

    public Team SexualHealth { get; private set; } = null!;

    public Team CommunityMentalHealth { get; private set; } = null!;

    public Team MemoryService { get; private set; } = null!;

    public Team Ambulance { get; private set; } = null!;

    public Team Nhs111 { get; private set; } = null!;

    public IReadOnlyList<Team> Pharmacies { get; private set; } = [];

    public IReadOnlyList<Team> VoluntaryServices { get; private set; } = [];

    /// <summary>Practices in a town, or all practices when the town has none (small regions).</summary>
    public IReadOnlyList<Practice> PracticesFor(Town town)
    {
        var local = Practices.Where(p => p.Town == town).ToList();
        return local.Count > 0 ? local : Practices;
    }

    /// <summary>The id of the shared Medication resource for a dm+d product of the formulary.</summary>
    public static string MedicationId(Medicine medicine) => $"tv-med-{medicine.Code}";

    private Practice AddPractice(int index, Town town, int listSize)
    {
        var ods = $"V9{index + 1:0000}";
        var id = $"tv-practice-{ods.ToLowerInvariant()}";
        var name = index < Geography.Towns.Length
            ? $"{town.Name} Medical Centre"
            : $"{Geography.Street(_rng).Replace("The ", string.Empty, StringComparison.Ordinal)} Surgery, {town.Name}";
        var site = AddSite($"{id}-site", $"{name}", id, ods + "01", town, "Surgery", "HOSP", "General practice");
        AddOrganisation(id, ods, name, "prov", "Healthcare Provider", town, partOf: null, typeText: "GP practice");
        var service = AddService($"{id}-gp", id, site, "General practice", "394814009", "General practice (specialty)");
        var gpCount = Math.Max(2, listSize / 1800);
        var gps = Enumerable.Range(0, gpCount).Select(n => AddStaff($"{id}-gp-{n + 1}", id, site, service, Occupations.Gp, "394814009", "General practice (specialty)")).ToList();
        var nurses = Enumerable.Range(0, Math.Max(1, gpCount / 2)).Select(n => AddStaff($"{id}-nurse-{n + 1}", id, site, service, Occupations.Nurse, "394814009", "General practice (specialty)")).ToList();
        AddOfficeStaff(id, site, service, administrators: Math.Max(2, gpCount / 2));
        return new Practice(id, ods, name, town, site, gps, nurses);
    }

    /// <summary>Receptionists and administrators, and the organisation's information governance lead.</summary>
    private void AddOfficeStaff(string organisationId, Site site, string serviceId, int administrators)
    {
        for (var n = 1; n <= administrators; n++)
        {
            AddStaff($"{organisationId}-admin-{n}", organisationId, site, serviceId, Occupations.Administrator, null, null);
        }

        AddStaff($"{organisationId}-ig-lead", organisationId, site, serviceId, Occupations.InformationGovernanceLead, null, null);
    }

    private void BuildAcuteTrust()
    {
        var town = Geography.Towns[0];
        AddOrganisation(AcuteTrustId, "R9A", AcuteTrustName, "prov", "Healthcare Provider", town, null, "NHS acute trust");
        var hospital = AddSite("tv-site-tessford-general", "Tessford General Hospital", AcuteTrustId, "R9A01", town, "Hospital", "HOSP", "Hospital");
        EmergencyDepartment = AddSite("tv-loc-emergency-department", "Emergency Department, Tessford General Hospital", AcuteTrustId, "R9A01ED", town, "Emergency department", "ER", "Emergency room", hospital);
        var edService = AddService("tv-hs-emergency-department", AcuteTrustId, EmergencyDepartment, "Emergency department (type 1)", "394576009", "Accident & emergency");
        EmergencyDoctors = Enumerable.Range(1, 6).Select(n => AddStaff($"tv-acute-ed-doctor-{n}", AcuteTrustId, EmergencyDepartment, edService, Occupations.EmergencyDoctor, "394576009", "Accident & emergency")).ToList();
        EmergencyNurses = Enumerable.Range(1, 6).Select(n => AddStaff($"tv-acute-ed-nurse-{n}", AcuteTrustId, EmergencyDepartment, edService, Occupations.Nurse, "394576009", "Accident & emergency")).ToList();

        (string Key, string Name, string Code, string Display)[] specialties =
        [
            ("medicine", "General Medicine", "394802001", "General medicine"),
            ("elderly", "Elderly Care", "394811001", "Geriatric medicine"),
            ("cardiology", "Cardiology", "394579002", "Cardiology"),
            ("respiratory", "Respiratory Medicine", "418112009", "Pulmonary medicine"),
            ("diabetes", "Diabetes and Endocrinology", "394583002", "Endocrinology"),
            ("renal", "Renal Medicine", "394589003", "Nephrology"),
            ("orthopaedics", "Trauma and Orthopaedics", "394801008", "Trauma and orthopedics"),
            ("paediatrics", "Paediatrics", "394537008", "Pediatric specialty"),
        ];

        var wards = new List<Unit>();
        var clinics = new List<Unit>();
        var wardNames = new[] { "Ash", "Beech", "Cedar", "Elm", "Hazel", "Larch", "Maple", "Rowan" };
        string? firstService = null;
        for (var i = 0; i < specialties.Length; i++)
        {
            var s = specialties[i];
            var wardSite = AddSite($"tv-loc-ward-{wardNames[i].ToLowerInvariant()}", $"{wardNames[i]} Ward ({s.Name}), Tessford General Hospital", AcuteTrustId, $"R9A01W{i + 1}", town, "Ward", "HU", "Hospital unit", hospital, physicalWard: true);
            var clinicSite = AddSite($"tv-loc-clinic-{s.Key}", $"{s.Name} Outpatient Clinic, Tessford General Hospital", AcuteTrustId, $"R9A01C{i + 1}", town, "Outpatient clinic", "OF", "Outpatient facility", hospital, physicalWard: false, clinic: true);
            var service = AddService($"tv-hs-{s.Key}", AcuteTrustId, clinicSite, s.Name, s.Code, s.Display);
            firstService ??= service;
            var staff = Enumerable.Range(1, 2).Select(n => AddStaff($"tv-acute-{s.Key}-consultant-{n}", AcuteTrustId, clinicSite, service, Occupations.Doctor, s.Code, s.Display)).ToList();
            AddStaff($"tv-acute-{s.Key}-ward-nurse", AcuteTrustId, wardSite, service, Occupations.Nurse, s.Code, s.Display);
            wards.Add(new Unit(wardSite, s.Code, s.Display, staff));
            clinics.Add(new Unit(clinicSite, s.Code, s.Display, staff));
        }

        Wards = wards;
        Clinics = clinics;
        AddOfficeStaff(AcuteTrustId, hospital, edService, administrators: 4);
    }

    private void BuildCommunityTrust()
    {
        var town = Geography.Towns[2];
        AddOrganisation(CommunityTrustId, "R9B", CommunityTrustName, "prov", "Healthcare Provider", Geography.Towns[0], null, "NHS community trust");
        var hub = AddSite("tv-site-community-hub", "Tessvale Community Health Hub", CommunityTrustId, "R9B01", town, "Community health centre", "HOSP", "Hospital");
        var dn = AddService("tv-hs-district-nursing", CommunityTrustId, hub, "District nursing", "394802001", "General medicine");
        AddService("tv-hs-community-rehab", CommunityTrustId, hub, "Community rehabilitation and reablement", "394602003", "Rehabilitation - specialty");
        var nurses = Enumerable.Range(1, 6).Select(n => AddStaff($"tv-community-district-nurse-{n}", CommunityTrustId, hub, dn, Occupations.Nurse, "394802001", "General medicine")).ToList();
        DistrictNursing = new Team(CommunityTrustId, CommunityTrustName, dn, hub, nurses);

        var clinic = AddSite("tv-site-sexual-health", "Tessvale Sexual Health Clinic", CommunityTrustId, "R9B02", Geography.Towns[0], "Sexual health clinic", "OF", "Outpatient facility");
        var sh = AddService("tv-hs-sexual-health", CommunityTrustId, clinic, "Integrated sexual health service", "394808002", "Genito-urinary medicine");
        SexualHealth = new Team(CommunityTrustId, CommunityTrustName, sh, clinic,
        [
            AddStaff("tv-community-sexual-health-doctor-1", CommunityTrustId, clinic, sh, Occupations.Doctor, "394808002", "Genito-urinary medicine"),
            AddStaff("tv-community-sexual-health-nurse-1", CommunityTrustId, clinic, sh, Occupations.Nurse, "394808002", "Genito-urinary medicine"),
            AddStaff("tv-community-sexual-health-nurse-2", CommunityTrustId, clinic, sh, Occupations.Nurse, "394808002", "Genito-urinary medicine"),
        ]);
        AddOfficeStaff(CommunityTrustId, hub, dn, administrators: 2);
    }

    private void BuildMentalHealthTrust()
    {
        AddOrganisation(MentalHealthTrustId, "R9C", MentalHealthTrustName, "prov", "Healthcare Provider", Geography.Towns[0], null, "NHS mental health trust");
        var mh = AddSite("tv-site-mental-health-centre", "Brackenmoor Mental Health Centre", MentalHealthTrustId, "R9C01", Geography.Towns[2], "Mental health centre", "PSYCHF", "Psychiatric healthcare facility");
        var cmht = AddService("tv-hs-cmht", MentalHealthTrustId, mh, "Community mental health team", "394587001", "Psychiatry");
        var memory = AddService("tv-hs-memory-service", MentalHealthTrustId, mh, "Memory assessment service", "394587001", "Psychiatry");
        var cmhtStaff = new List<Staff> { AddStaff("tv-mh-psychiatrist-1", MentalHealthTrustId, mh, cmht, Occupations.Doctor, "394587001", "Psychiatry") };
        cmhtStaff.AddRange(Enumerable.Range(1, 3).Select(n => AddStaff($"tv-mh-nurse-{n}", MentalHealthTrustId, mh, cmht, Occupations.Nurse, "394587001", "Psychiatry")));
        cmhtStaff.Add(AddStaff("tv-mh-social-worker-1", MentalHealthTrustId, mh, cmht, Occupations.SocialWorker, "394587001", "Psychiatry"));
        CommunityMentalHealth = new Team(MentalHealthTrustId, MentalHealthTrustName, cmht, mh, cmhtStaff);
        MemoryService = new Team(MentalHealthTrustId, MentalHealthTrustName, memory, mh,
        [
            AddStaff("tv-mh-old-age-psychiatrist-1", MentalHealthTrustId, mh, memory, Occupations.Doctor, "394587001", "Psychiatry"),
            AddStaff("tv-mh-memory-nurse-1", MentalHealthTrustId, mh, memory, Occupations.Nurse, "394587001", "Psychiatry"),
        ]);
        AddOfficeStaff(MentalHealthTrustId, mh, cmht, administrators: 2);
    }

    private void BuildCouncil()
    {
        var town = Geography.Towns[0];
        AddOrganisation(CouncilId, "X9T", CouncilName, "govt", "Government", town, null, "Local authority (adult and children's social care)");
        CountyHall = AddSite("tv-site-county-hall", "County Hall, Tessford", CouncilId, "X9T01", town, "Council offices", "OF", "Outpatient facility");
        var adult = AddService(AdultSocialCareServiceId, CouncilId, CountyHall, "Adult social care", null, null);
        var children = AddService(ChildrenSocialCareServiceId, CouncilId, CountyHall, "Children's social care", null, null);
        AdultSocialWorkers = Enumerable.Range(1, 6).Select(n => AddStaff($"tv-council-adult-social-worker-{n}", CouncilId, CountyHall, adult, Occupations.SocialWorker, null, null)).ToList();
        ChildrenSocialWorkers = Enumerable.Range(1, 3).Select(n => AddStaff($"tv-council-children-social-worker-{n}", CouncilId, CountyHall, children, Occupations.SocialWorker, null, null)).ToList();
        AddOfficeStaff(CouncilId, CountyHall, adult, administrators: 3);
    }

    private void BuildHospiceAmbulanceAnd111()
    {
        var town = Geography.Towns[1];
        AddOrganisation(HospiceId, "N9H", HospiceName, "prov", "Healthcare Provider", town, null, "Hospice (charity)");
        HospiceInpatientUnit = AddSite("tv-site-vale-hospice", "Vale Hospice Inpatient Unit", HospiceId, "N9H01", town, "Hospice", "HOSP", "Hospital");
        var palliative = AddService("tv-hs-hospice", HospiceId, HospiceInpatientUnit, "Specialist palliative care", "394806003", "Palliative medicine");
        HospiceStaff =
        [
            AddStaff("tv-hospice-doctor-1", HospiceId, HospiceInpatientUnit, palliative, Occupations.Doctor, "394806003", "Palliative medicine"),
            AddStaff("tv-hospice-nurse-1", HospiceId, HospiceInpatientUnit, palliative, Occupations.Nurse, "394806003", "Palliative medicine"),
            AddStaff("tv-hospice-nurse-2", HospiceId, HospiceInpatientUnit, palliative, Occupations.Nurse, "394806003", "Palliative medicine"),
        ];
        AddOfficeStaff(HospiceId, HospiceInpatientUnit, palliative, administrators: 1);

        AddOrganisation(AmbulanceId, "R9D", AmbulanceName, "prov", "Healthcare Provider", Geography.Towns[0], null, "NHS ambulance trust");
        var station = AddSite("tv-site-ambulance-hq", "Tessvale Ambulance Headquarters", AmbulanceId, "R9D01", Geography.Towns[0], "Ambulance station", "AMB", "Ambulance");
        var emergency = AddService("tv-hs-999", AmbulanceId, station, "Emergency ambulance (999)", "394576009", "Accident & emergency");
        Ambulance = new Team(AmbulanceId, AmbulanceName, emergency, station,
            Enumerable.Range(1, 8).Select(n => AddStaff($"tv-ambulance-paramedic-{n}", AmbulanceId, station, emergency, Occupations.Paramedic, null, null)).ToList());
        AddOfficeStaff(AmbulanceId, station, emergency, administrators: 2);

        AddOrganisation(Nhs111Id, "N9E", Nhs111Name, "prov", "Healthcare Provider", Geography.Towns[0], null, "NHS 111 provider");
        var callCentre = AddSite("tv-site-111", "Tessvale 111 Clinical Assessment Service", Nhs111Id, "N9E01", Geography.Towns[0], "Call centre", "OF", "Outpatient facility");
        var service = AddService("tv-hs-111", Nhs111Id, callCentre, "NHS 111 telephone and online", "394576009", "Accident & emergency");
        Nhs111 = new Team(Nhs111Id, Nhs111Name, service, callCentre,
        [
            AddStaff("tv-111-nurse-adviser-1", Nhs111Id, callCentre, service, Occupations.NurseAdviser111, null, null),
            AddStaff("tv-111-nurse-adviser-2", Nhs111Id, callCentre, service, Occupations.NurseAdviser111, null, null),
            AddStaff("tv-111-nurse-adviser-3", Nhs111Id, callCentre, service, Occupations.NurseAdviser111, null, null),
            AddStaff("tv-111-gp-1", Nhs111Id, callCentre, service, Occupations.Gp111, "394814009", "General practice (specialty)"),
        ]);
        AddOfficeStaff(Nhs111Id, callCentre, service, administrators: 2);
    }

    private void BuildPharmaciesAndVoluntarySector(int population)
    {
        var pharmacies = new List<Team>();
        var count = Math.Max(2, population / 5000);
        for (var i = 0; i < count; i++)
        {
            var town = Geography.Towns[i % Geography.Towns.Length];
            var ods = $"F9{(char)('A' + (i / 100 % 26))}{i % 100:00}";
            var id = $"tv-pharmacy-{ods.ToLowerInvariant()}";
            var name = i < Geography.Towns.Length ? $"{town.Name} Pharmacy" : $"{Geography.Street(_rng)} Pharmacy, {town.Name}";
            AddOrganisation(id, ods, name, "prov", "Healthcare Provider", town, null, "Community pharmacy");
            var site = AddSite($"{id}-site", name, id, ods + "01", town, "Pharmacy", "PHARM", "Pharmacy");
            var service = AddService($"{id}-service", id, site, "Community pharmacy dispensing", null, null);
            var pharmacist = AddStaff($"{id}-pharmacist", id, site, service, Occupations.Pharmacist, null, null);
            pharmacies.Add(new Team(id, name, service, site, [pharmacist]));
        }

        Pharmacies = pharmacies;

        (string Key, string Name, string Service)[] voluntary =
        [
            ("carers-centre", "Tessvale Carers' Centre", "Carer support and respite"),
            ("dementia-support", "Tessvale Dementia Support", "Dementia advice and day support"),
            ("community-transport", "Vale Community Transport", "Transport to appointments"),
            ("food-bank", "Tessford Food Bank", "Emergency food parcels"),
            ("older-peoples-forum", "Tessvale Older People's Forum", "Befriending and social groups"),
        ];
        var services = new List<Team>();
        for (var i = 0; i < voluntary.Length; i++)
        {
            var v = voluntary[i];
            var town = Geography.Towns[i % Geography.Towns.Length];
            var id = $"tv-vcs-{v.Key}";
            AddOrganisation(id, $"N9V{i + 1:00}", v.Name, "cg", "Community Group", town, null, "Voluntary sector");
            var site = AddSite($"{id}-site", v.Name, id, $"N9V{i + 1:00}01", town, "Community centre", "OF", "Outpatient facility");
            var service = AddService($"{id}-service", id, site, v.Service, null, null);
            var coordinator = AddStaff($"{id}-coordinator", id, site, service, Occupations.VolunteerCoordinator, null, null);
            services.Add(new Team(id, v.Name, service, site, [coordinator]));
        }

        VoluntaryServices = services;
    }

    /// <summary>The hospital formulary as shared UK Core Medication resources, coded with dm+d.</summary>
    private void BuildFormulary()
    {
        foreach (var medicine in Catalogue.Formulary)
        {
            _resources.Add(new Medication
            {
                Id = MedicationId(medicine),
                Meta = FhirBuild.Profile(UkCore.Medication),
                Code = FhirBuild.Concept(Systems.Dmd, medicine.Code, medicine.Display),
                Status = Medication.MedicationStatusCodes.Active,
                Form = medicine.Form is null ? null : FhirBuild.Snomed(medicine.Form.Value.Code, medicine.Form.Value.Display),
            });
        }
    }

    private void AddOrganisation(string id, string odsCode, string name, string typeCode, string typeDisplay, Town town, string? partOf, string typeText)
    {
        var postcode = Geography.Postcode(_rng, town);
        var org = new Organization
        {
            Id = id,
            Meta = FhirBuild.Profile(UkCore.Organization),
            Identifier = [FhirBuild.Ods(odsCode)],
            Active = true,
            Type = [new CodeableConcept { Coding = [new Coding(Systems.OrganizationType, typeCode, typeDisplay)], Text = typeText }],
            Name = name,
            Telecom = [new ContactPoint(ContactPoint.ContactPointSystem.Phone, ContactPoint.ContactPointUse.Work, Geography.Landline(_rng))],
            Address = [FhirBuild.Address(Geography.StreetLine(_rng), town.Name, postcode, Geography.County, Address.AddressUse.Work)],
            PartOf = partOf is null ? null : FhirBuild.Ref("Organization", partOf),
        };
        _resources.Add(org);
    }

    private Site AddSite(string id, string name, string organisationId, string siteCode, Town town, string typeText, string typeCode, string typeDisplay, Site? partOf = null, bool physicalWard = false, bool clinic = false)
    {
        // A ward or clinic sits at its hospital's position; a building is scattered near its town's centre.
        var (lat, lon) = partOf is null ? Geography.Near(_rng, town) : (_positions[partOf.LocationId].Latitude!.Value, _positions[partOf.LocationId].Longitude!.Value);
        var position = new Location.PositionComponent { Latitude = lat, Longitude = lon };
        _positions[id] = position;
        var location = new Location
        {
            Id = id,
            Meta = FhirBuild.Profile(UkCore.Location),
            Identifier = [FhirBuild.OdsSite(siteCode)],
            Status = Location.LocationStatus.Active,
            Name = name,
            Mode = Location.LocationMode.Instance,
            Type = [new CodeableConcept { Coding = [new Coding("http://terminology.hl7.org/CodeSystem/v3-RoleCode", typeCode, typeDisplay)], Text = typeText }],
            PhysicalType = FhirBuild.Concept("http://terminology.hl7.org/CodeSystem/location-physical-type", physicalWard ? "wa" : clinic ? "ro" : "bu", physicalWard ? "Ward" : clinic ? "Room" : "Building"),
            Position = position,
            ManagingOrganization = FhirBuild.Ref("Organization", organisationId),
            PartOf = partOf is null ? null : FhirBuild.Ref("Location", partOf.LocationId),
            Address = partOf is null ? FhirBuild.Address(Geography.StreetLine(_rng), town.Name, Geography.Postcode(_rng, town), Geography.County, Address.AddressUse.Work) : null,
        };
        _resources.Add(location);
        return new Site(id, name, organisationId);
    }

    private string AddService(string id, string organisationId, Site site, string name, string? specialtyCode, string? specialtyDisplay)
    {
        var service = new HealthcareService
        {
            Id = id,
            Meta = FhirBuild.Profile(UkCore.HealthcareService),
            Active = true,
            ProvidedBy = FhirBuild.Ref("Organization", organisationId),
            Location = [FhirBuild.Ref("Location", site.LocationId)],
            Name = name,
            Type = [FhirBuild.Text(name)],
            Specialty = specialtyCode is null ? [] : [FhirBuild.Snomed(specialtyCode, specialtyDisplay!)],
        };
        _resources.Add(service);
        return id;
    }

    private Staff AddStaff(string key, string organisationId, Site site, string serviceId, Occupation occupation, string? specialtyCode, string? specialtyDisplay)
    {
        var male = _rng.Chance(0.45);
        var birthYear = _rng.Between(1960, 1998);
        var given = NameData.GivenName(_rng, male, birthYear, _rng.Chance(0.75) ? NameGroup.English : (NameGroup)_rng.Between(1, 9));
        var family = _rng.Chance(0.75) ? NameData.EnglishSurname(_rng) : NameData.Surname(_rng, (NameGroup)_rng.Between(1, 9));
        var practitionerId = $"{key}";
        var roleId = $"{key}-role";
        var prefix = occupation.Prefix;
        var display = $"{(prefix is null ? string.Empty : prefix + " ")}{given} {family}";
        _resources.Add(new Practitioner
        {
            Id = practitionerId,
            Meta = FhirBuild.Profile(UkCore.Practitioner),
            Identifier = [new Identifier(Systems.StaffNumber, $"TV{Math.Abs(key.GetStableHash()) % 10_000_000:0000000}")],
            Active = true,
            Name = [new HumanName { Use = HumanName.NameUse.Official, Family = family, Given = [given], Prefix = prefix is null ? [] : [prefix] }],
            Gender = male ? AdministrativeGender.Male : AdministrativeGender.Female,
        });
        _resources.Add(new PractitionerRole
        {
            Id = roleId,
            Meta = FhirBuild.Profile(UkCore.PractitionerRole),
            Active = true,
            Practitioner = FhirBuild.Ref("Practitioner", practitionerId, display),
            Organization = FhirBuild.Ref("Organization", organisationId),
            Code = [RoleCode(occupation)],
            Specialty = specialtyCode is null ? [] : [FhirBuild.Snomed(specialtyCode, specialtyDisplay!)],
            Location = [FhirBuild.Ref("Location", site.LocationId)],
            HealthcareService = [FhirBuild.Ref("HealthcareService", serviceId)],
        });
        return new Staff(practitionerId, roleId, display, organisationId);
    }

    /// <summary>The SNOMED CT occupation first (what the person is), then the Tessera access role (what a policy grants).</summary>
    private static CodeableConcept RoleCode(Occupation occupation)
    {
        var concept = new CodeableConcept { Text = occupation.Role == "ig-lead" ? Occupations.RoleDisplay("ig-lead") : occupation.Display };
        if (occupation.SnomedCode is not null)
        {
            concept.Coding.Add(new Coding(Systems.Snomed, occupation.SnomedCode, occupation.Display));
        }

        if (occupation.Role is not null)
        {
            concept.Coding.Add(new Coding(Occupations.RoleSystem, occupation.Role, Occupations.RoleDisplay(occupation.Role)));
        }

        return concept;
    }
}

internal static class StableHash
{
    /// <summary>FNV-1a: string.GetHashCode is randomised per process, and the demo must not be.</summary>
    public static int GetStableHash(this string text)
    {
        var hash = 2166136261u;
        foreach (var c in text)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash & 0x7FFFFFFF);
    }
}
