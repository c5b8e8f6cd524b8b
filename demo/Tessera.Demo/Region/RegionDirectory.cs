using Hl7.Fhir.Model;
using Tessera.Demo.Fhir;
using Tessera.Demo.People;
using Tessera.Demo.Randomness;

namespace Tessera.Demo.Region;

/// <summary>A member of staff: a Practitioner and the PractitionerRole they hold at one organisation.</summary>
internal sealed record Staff(string PractitionerId, string RoleId, string Name);

/// <summary>A Location with the organisation that runs it.</summary>
internal sealed record Site(string LocationId, string Name, string OrganisationId);

internal sealed record Practice(string OrganisationId, string OdsCode, string Name, Town Town, Site Surgery, IReadOnlyList<Staff> Gps, IReadOnlyList<Staff> Nurses);

/// <summary>An outpatient clinic or ward of the acute trust with the specialty that runs it.</summary>
internal sealed record Unit(Site Site, string SpecialtyCode, string SpecialtyDisplay, IReadOnlyList<Staff> Clinicians);

/// <summary>
/// The health and social care organisations of Tessvale, their sites, services and staff. Every resource has
/// a fixed id so that people's bundles can reference it as Type/id; the set scales with the population
/// (about one GP practice per 8,000 people) and is otherwise the same for any seed.
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
    public const string CouncilName = "Tessvale County Council";

    private readonly List<Resource> _resources = [];
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
        BuildCommunityAndMentalHealth();
        BuildCouncil();
        BuildHospiceAmbulanceAnd111();
        BuildPharmaciesAndVoluntarySector(population);
    }

    public IReadOnlyList<Resource> Resources => _resources;

    public IReadOnlyList<Practice> Practices { get; }

    public Site EmergencyDepartment { get; private set; } = null!;

    public IReadOnlyList<Staff> EmergencyDoctors { get; private set; } = [];

    public IReadOnlyList<Unit> Wards { get; private set; } = [];

    public IReadOnlyList<Unit> Clinics { get; private set; } = [];

    public IReadOnlyList<Staff> AdultSocialWorkers { get; private set; } = [];

    public IReadOnlyList<Staff> ChildrenSocialWorkers { get; private set; } = [];

    public Site HospiceInpatientUnit { get; private set; } = null!;

    public IReadOnlyList<Staff> HospiceStaff { get; private set; } = [];

    /// <summary>Practices in a town, or all practices when the town has none (small regions).</summary>
    public IReadOnlyList<Practice> PracticesFor(Town town)
    {
        var local = Practices.Where(p => p.Town == town).ToList();
        return local.Count > 0 ? local : Practices;
    }

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
        var gps = Enumerable.Range(0, gpCount).Select(n => AddStaff($"{id}-gp-{n + 1}", id, site, service, "62247001", "General practitioner", "Dr", "394814009", "General practice (specialty)")).ToList();
        var nurses = Enumerable.Range(0, Math.Max(1, gpCount / 2)).Select(n => AddStaff($"{id}-nurse-{n + 1}", id, site, service, "224535009", "Registered nurse", null, "394814009", "General practice (specialty)")).ToList();
        return new Practice(id, ods, name, town, site, gps, nurses);
    }

    private void BuildAcuteTrust()
    {
        var town = Geography.Towns[0];
        AddOrganisation(AcuteTrustId, "R9A", AcuteTrustName, "prov", "Healthcare Provider", town, null, "NHS acute trust");
        var hospital = AddSite("tv-site-tessford-general", "Tessford General Hospital", AcuteTrustId, "R9A01", town, "Hospital", "HOSP", "Hospital");
        EmergencyDepartment = AddSite("tv-loc-emergency-department", "Emergency Department, Tessford General Hospital", AcuteTrustId, "R9A01ED", town, "Emergency department", "ER", "Emergency room", hospital);
        var edService = AddService("tv-hs-emergency-department", AcuteTrustId, EmergencyDepartment, "Emergency department (type 1)", "394576009", "Accident & emergency");
        EmergencyDoctors = Enumerable.Range(1, 6).Select(n => AddStaff($"tv-acute-ed-doctor-{n}", AcuteTrustId, EmergencyDepartment, edService, "309294001", "Accident and Emergency doctor", "Dr", "394576009", "Accident & emergency")).ToList();
        for (var n = 1; n <= 6; n++)
        {
            AddStaff($"tv-acute-ed-nurse-{n}", AcuteTrustId, EmergencyDepartment, edService, "224535009", "Registered nurse", null, "394576009", "Accident & emergency");
        }

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
        for (var i = 0; i < specialties.Length; i++)
        {
            var s = specialties[i];
            var consultants = Enumerable.Range(1, 2).Select(n => (Key: $"tv-acute-{s.Key}-consultant-{n}", n)).ToList();
            var wardSite = AddSite($"tv-loc-ward-{wardNames[i].ToLowerInvariant()}", $"{wardNames[i]} Ward ({s.Name}), Tessford General Hospital", AcuteTrustId, $"R9A01W{i + 1}", town, "Ward", "HU", "Hospital unit", hospital, physicalWard: true);
            var clinicSite = AddSite($"tv-loc-clinic-{s.Key}", $"{s.Name} Outpatient Clinic, Tessford General Hospital", AcuteTrustId, $"R9A01C{i + 1}", town, "Outpatient clinic", "OF", "Outpatient facility", hospital, physicalWard: false, clinic: true);
            var service = AddService($"tv-hs-{s.Key}", AcuteTrustId, clinicSite, s.Name, s.Code, s.Display);
            var staff = consultants.Select(c => AddStaff(c.Key, AcuteTrustId, clinicSite, service, "158965000", "Doctor", "Dr", s.Code, s.Display)).ToList();
            AddStaff($"tv-acute-{s.Key}-ward-nurse", AcuteTrustId, wardSite, service, "224535009", "Registered nurse", null, s.Code, s.Display);
            wards.Add(new Unit(wardSite, s.Code, s.Display, staff));
            clinics.Add(new Unit(clinicSite, s.Code, s.Display, staff));
        }

        Wards = wards;
        Clinics = clinics;
    }

    private void BuildCommunityAndMentalHealth()
    {
        var town = Geography.Towns[0];
        AddOrganisation(CommunityTrustId, "R9B", "Tessvale Community Health NHS Trust", "prov", "Healthcare Provider", town, null, "NHS community trust");
        var hub = AddSite("tv-site-community-hub", "Tessvale Community Health Hub", CommunityTrustId, "R9B01", Geography.Towns[2], "Community health centre", "HOSP", "Hospital");
        var dn = AddService("tv-hs-district-nursing", CommunityTrustId, hub, "District nursing", "394802001", "General medicine");
        AddService("tv-hs-community-rehab", CommunityTrustId, hub, "Community rehabilitation and reablement", "394602003", "Rehabilitation - specialty");
        for (var n = 1; n <= 6; n++)
        {
            AddStaff($"tv-community-district-nurse-{n}", CommunityTrustId, hub, dn, "224535009", "Registered nurse", null, "394802001", "General medicine");
        }

        AddOrganisation(MentalHealthTrustId, "R9C", "Tessvale Mental Health NHS Foundation Trust", "prov", "Healthcare Provider", town, null, "NHS mental health trust");
        var mh = AddSite("tv-site-mental-health-centre", "Brackenmoor Mental Health Centre", MentalHealthTrustId, "R9C01", Geography.Towns[2], "Mental health centre", "PSYCHF", "Psychiatric healthcare facility");
        var cmht = AddService("tv-hs-cmht", MentalHealthTrustId, mh, "Community mental health team", "394587001", "Psychiatry");
        AddService("tv-hs-memory-service", MentalHealthTrustId, mh, "Memory assessment service", "394587001", "Psychiatry");
        AddStaff("tv-mh-psychiatrist-1", MentalHealthTrustId, mh, cmht, "158965000", "Doctor", "Dr", "394587001", "Psychiatry");
        for (var n = 1; n <= 3; n++)
        {
            AddStaff($"tv-mh-nurse-{n}", MentalHealthTrustId, mh, cmht, "224535009", "Registered nurse", null, "394587001", "Psychiatry");
        }
    }

    private void BuildCouncil()
    {
        var town = Geography.Towns[0];
        AddOrganisation(CouncilId, "X9T", CouncilName, "govt", "Government", town, null, "Local authority (adult and children's social care)");
        var hall = AddSite("tv-site-county-hall", "County Hall, Tessford", CouncilId, "X9T01", town, "Council offices", "OF", "Outpatient facility");
        var adult = AddService(AdultSocialCareServiceId, CouncilId, hall, "Adult social care", null, null);
        var children = AddService(ChildrenSocialCareServiceId, CouncilId, hall, "Children's social care", null, null);
        AdultSocialWorkers = Enumerable.Range(1, 6).Select(n => AddStaff($"tv-council-adult-social-worker-{n}", CouncilId, hall, adult, "106328005", "Social worker", null, null, null)).ToList();
        ChildrenSocialWorkers = Enumerable.Range(1, 3).Select(n => AddStaff($"tv-council-children-social-worker-{n}", CouncilId, hall, children, "106328005", "Social worker", null, null, null)).ToList();
    }

    private void BuildHospiceAmbulanceAnd111()
    {
        var town = Geography.Towns[1];
        AddOrganisation(HospiceId, "N9H", "Vale Hospice", "prov", "Healthcare Provider", town, null, "Hospice (charity)");
        HospiceInpatientUnit = AddSite("tv-site-vale-hospice", "Vale Hospice Inpatient Unit", HospiceId, "N9H01", town, "Hospice", "HOSP", "Hospital");
        var palliative = AddService("tv-hs-hospice", HospiceId, HospiceInpatientUnit, "Specialist palliative care", "394806003", "Palliative medicine");
        HospiceStaff =
        [
            AddStaff("tv-hospice-doctor-1", HospiceId, HospiceInpatientUnit, palliative, "158965000", "Doctor", "Dr", "394806003", "Palliative medicine"),
            AddStaff("tv-hospice-nurse-1", HospiceId, HospiceInpatientUnit, palliative, "224535009", "Registered nurse", null, "394806003", "Palliative medicine"),
            AddStaff("tv-hospice-nurse-2", HospiceId, HospiceInpatientUnit, palliative, "224535009", "Registered nurse", null, "394806003", "Palliative medicine"),
        ];

        AddOrganisation(AmbulanceId, "R9D", "Tessvale Ambulance Service NHS Trust", "prov", "Healthcare Provider", Geography.Towns[0], null, "NHS ambulance trust");
        var station = AddSite("tv-site-ambulance-hq", "Tessvale Ambulance Headquarters", AmbulanceId, "R9D01", Geography.Towns[0], "Ambulance station", "AMB", "Ambulance");
        var emergency = AddService("tv-hs-999", AmbulanceId, station, "Emergency ambulance (999)", "394576009", "Accident & emergency");
        for (var n = 1; n <= 8; n++)
        {
            AddStaff($"tv-ambulance-paramedic-{n}", AmbulanceId, station, emergency, "397897005", "Paramedic", null, null, null);
        }

        AddOrganisation(Nhs111Id, "N9E", "Tessvale Integrated Urgent Care (NHS 111)", "prov", "Healthcare Provider", Geography.Towns[0], null, "NHS 111 provider");
        var callCentre = AddSite("tv-site-111", "Tessvale 111 Clinical Assessment Service", Nhs111Id, "N9E01", Geography.Towns[0], "Call centre", "OF", "Outpatient facility");
        var service = AddService("tv-hs-111", Nhs111Id, callCentre, "NHS 111 telephone and online", "394576009", "Accident & emergency");
        AddStaff("tv-111-nurse-adviser-1", Nhs111Id, callCentre, service, "224535009", "Registered nurse", null, null, null);
        AddStaff("tv-111-nurse-adviser-2", Nhs111Id, callCentre, service, "224535009", "Registered nurse", null, null, null);
    }

    private void BuildPharmaciesAndVoluntarySector(int population)
    {
        var pharmacies = Math.Max(2, population / 5000);
        for (var i = 0; i < pharmacies; i++)
        {
            var town = Geography.Towns[i % Geography.Towns.Length];
            var ods = $"F9{(char)('A' + (i / 100 % 26))}{i % 100:00}";
            var id = $"tv-pharmacy-{ods.ToLowerInvariant()}";
            var name = i < Geography.Towns.Length ? $"{town.Name} Pharmacy" : $"{Geography.Street(_rng)} Pharmacy, {town.Name}";
            AddOrganisation(id, ods, name, "prov", "Healthcare Provider", town, null, "Community pharmacy");
            var site = AddSite($"{id}-site", name, id, ods + "01", town, "Pharmacy", "PHARM", "Pharmacy");
            var service = AddService($"{id}-service", id, site, "Community pharmacy dispensing", null, null);
            AddStaff($"{id}-pharmacist", id, site, service, "46255001", "Pharmacist", null, null, null);
        }

        (string Key, string Name, string Service)[] voluntary =
        [
            ("carers-centre", "Tessvale Carers' Centre", "Carer support and respite"),
            ("dementia-support", "Tessvale Dementia Support", "Dementia advice and day support"),
            ("community-transport", "Vale Community Transport", "Transport to appointments"),
            ("food-bank", "Tessford Food Bank", "Emergency food parcels"),
            ("older-peoples-forum", "Tessvale Older People's Forum", "Befriending and social groups"),
        ];
        for (var i = 0; i < voluntary.Length; i++)
        {
            var v = voluntary[i];
            var town = Geography.Towns[i % Geography.Towns.Length];
            var id = $"tv-vcs-{v.Key}";
            AddOrganisation(id, $"N9V{i + 1:00}", v.Name, "cg", "Community Group", town, null, "Voluntary sector");
            var site = AddSite($"{id}-site", v.Name, id, $"N9V{i + 1:00}01", town, "Community centre", "OF", "Outpatient facility");
            AddService($"{id}-service", id, site, v.Service, null, null);
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
        var (lat, lon) = partOf is null ? Geography.Near(_rng, town) : (FindPosition(partOf.LocationId).Latitude, FindPosition(partOf.LocationId).Longitude);
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
            Position = new Location.PositionComponent { Latitude = lat, Longitude = lon },
            ManagingOrganization = FhirBuild.Ref("Organization", organisationId),
            PartOf = partOf is null ? null : FhirBuild.Ref("Location", partOf.LocationId),
            Address = partOf is null ? FhirBuild.Address(Geography.StreetLine(_rng), town.Name, Geography.Postcode(_rng, town), Geography.County, Address.AddressUse.Work) : null,
        };
        _resources.Add(location);
        return new Site(id, name, organisationId);
    }

    private Location.PositionComponent FindPosition(string locationId) =>
        _resources.OfType<Location>().First(l => l.Id == locationId).Position!;

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

    private Staff AddStaff(string key, string organisationId, Site site, string serviceId, string roleCode, string roleDisplay, string? prefix, string? specialtyCode, string? specialtyDisplay)
    {
        var male = _rng.Chance(0.45);
        var birthYear = _rng.Between(1960, 1998);
        var given = NameData.GivenName(_rng, male, birthYear, _rng.Chance(0.75) ? NameGroup.English : (NameGroup)_rng.Between(1, 9));
        var family = _rng.Chance(0.75) ? NameData.EnglishSurname(_rng) : NameData.Surname(_rng, (NameGroup)_rng.Between(1, 9));
        var practitionerId = $"{key}";
        var roleId = $"{key}-role";
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
            Code = [FhirBuild.Snomed(roleCode, roleDisplay)],
            Specialty = specialtyCode is null ? [] : [FhirBuild.Snomed(specialtyCode, specialtyDisplay!)],
            Location = [FhirBuild.Ref("Location", site.LocationId)],
            HealthcareService = [FhirBuild.Ref("HealthcareService", serviceId)],
        });
        return new Staff(practitionerId, roleId, display);
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
