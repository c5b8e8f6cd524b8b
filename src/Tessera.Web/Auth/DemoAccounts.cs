using System.Security.Cryptography;
using Hl7.Fhir.Model;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Web.Auth;

/// <summary>One demo sign-in, printed at start in demo mode only.</summary>
internal sealed record DemoSignIn(string UserName, string Password, string Role, string Who);

/// <summary>
/// Demo mode: a user for every role on the demo region (from its PractitionerRoles, a few patients and a carer),
/// plus a system client; passwords and the secret are generated afresh at every demo start and never stored in clear.
/// </summary>
internal static class DemoAccounts
{
    public const string SystemClientId = "demo-system";
    private const string Snomed = "http://snomed.info/sct";

    /// <summary>Whether the store holds the demo region (its acute trust has a fixed id).</summary>
    public static async Task<bool> IsDemoRegionAsync(FhirStore store, CancellationToken ct) =>
        (await store.ExecuteAsync(FhirRequest.FromUrl("GET", "Organization/tv-acute-trust"), ct)).Status == 200;

    public static async Task<(IReadOnlyList<DemoSignIn> Users, string SystemSecret)> PrepareAsync(FhirStore store, AuthAdministration admin, CancellationToken ct)
    {
        var users = (await admin.Users.ListAsync(ct)).Where(u => u.IsDemo).ToList();
        if (users.Count == 0)
        {
            foreach (var spec in await SpecsAsync(store, ct))
            {
                users.Add(await admin.Users.AddAsync(spec, NewPassword(), ct));
            }
        }

        var signIns = new List<DemoSignIn>();
        foreach (var user in users)
        {
            var password = NewPassword();
            await admin.Users.SetPasswordAsync(user.Id, password, ct);
            signIns.Add(new DemoSignIn(user.UserName, password, user.Role, user.DisplayName ?? user.FhirUser));
        }

        var secret = NewPassword();
        await admin.ClientsAsync(async clients =>
        {
            await clients.ReplaceAsync(new NewClient(SystemClientId, secret, ["system/*.cruds"], ClientRegistry.ClientCredentials, [], "Demo system"), ct);
            return 0;
        });
        return (signIns, secret);
    }

    private static string NewPassword() => Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();

    private static async Task<List<NewUser>> SpecsAsync(FhirStore store, CancellationToken ct)
    {
        var specs = new List<NewUser>();
        async Task AddRoleAsync(string role, string query, Func<PractitionerRole, bool>? filter = null)
        {
            var found = (await SearchAsync<PractitionerRole>(store, query, ct)).FirstOrDefault(r => filter?.Invoke(r) ?? true);
            if (found is not null)
            {
                specs.Add(new NewUser($"demo-{role}", role, PractitionerRole: found.Id, IsDemo: true));
            }
        }

        await AddRoleAsync("gp", $"PractitionerRole?role={Snomed}|62247001");
        await AddRoleAsync("nurse", $"PractitionerRole?role={Snomed}|224535009&_count=50", r => r.Id.Contains("-nurse-", StringComparison.Ordinal) && !r.Id.StartsWith("tv-", StringComparison.Ordinal));
        await AddRoleAsync("paramedic", $"PractitionerRole?role={Snomed}|397897005");
        await AddRoleAsync("clinician-111", "PractitionerRole?organization=Organization/tv-nhs-111");
        await AddRoleAsync("social-worker", $"PractitionerRole?role={Snomed}|106328005");
        var practice = specs.FirstOrDefault(s => s.Role == "gp")?.PractitionerRole is { } gpRole
            ? (await ReadAsync<PractitionerRole>(store, $"PractitionerRole/{gpRole}", ct))?.Organization?.Reference
            : null;
        // The region has no administrative or information governance staff of its own: add one of each.
        if (practice is not null)
        {
            specs.Add(new NewUser("demo-admin-staff", "admin-staff", PractitionerRole: await AddStaffAsync(store, "tv-demo-admin", practice, "224608005", "Administrative healthcare staff", ct), IsDemo: true));
        }

        specs.Add(new NewUser("demo-ig-lead", "ig-lead", PractitionerRole: await AddStaffAsync(store, "tv-demo-ig-lead", "Organization/tv-acute-trust", null, "Information governance lead", ct), IsDemo: true));

        var patients = (await SearchAsync<Patient>(store, "Patient?_count=20", ct))
            .Where(p => !p.Meta?.Tag.Any(t => t.System == "urn:tessera:mpi") ?? true).Take(2).ToList();
        for (var i = 0; i < patients.Count; i++)
        {
            specs.Add(new NewUser($"demo-citizen-{i + 1}", "citizen", Patient: patients[i].Id, IsDemo: true));
        }

        if (patients.Count > 0)
        {
            var carer = new RelatedPerson
            {
                Id = "tv-demo-carer",
                Active = true,
                Patient = new ResourceReference($"Patient/{patients[0].Id}"),
                Relationship = [new CodeableConcept("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "FAMMEMB", "family member", "Carer")],
                Name = [new HumanName { Family = "Carer", Given = ["Demo"] }],
            };
            await PutAsync(store, carer, ct);
            specs.Add(new NewUser("demo-carer", "carer", RelatedPerson: carer.Id, IsDemo: true));
        }

        return specs;
    }

    private static async Task<string> AddStaffAsync(FhirStore store, string id, string organization, string? code, string display, CancellationToken ct)
    {
        await PutAsync(store, new Practitioner { Id = id, Active = true, Name = [new HumanName { Family = "Demo", Given = [display] }] }, ct);
        var role = new PractitionerRole
        {
            Id = $"{id}-role",
            Active = true,
            Practitioner = new ResourceReference($"Practitioner/{id}"),
            Organization = new ResourceReference(organization),
            Code = [code is null ? new CodeableConcept { Text = display } : new CodeableConcept(Snomed, code, display, display)],
        };
        await PutAsync(store, role, ct);
        return role.Id;
    }

    private static async Task PutAsync(FhirStore store, Resource resource, CancellationToken ct)
    {
        var response = await store.ExecuteAsync(FhirRequest.FromUrl("PUT", $"{resource.TypeName}/{resource.Id}", resource), ct);
        if (response.Status >= 300)
        {
            throw new InvalidOperationException($"The demo {resource.TypeName}/{resource.Id} could not be written: {response.Outcome?.Issue.FirstOrDefault()?.Diagnostics}");
        }
    }

    private static async Task<List<T>> SearchAsync<T>(FhirStore store, string query, CancellationToken ct)
        where T : Resource
    {
        var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", query), ct);
        return response.Resource is Bundle bundle ? [.. bundle.Entry.Select(e => e.Resource).OfType<T>()] : [];
    }

    private static async Task<T?> ReadAsync<T>(FhirStore store, string path, CancellationToken ct)
        where T : Resource
    {
        var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", path), ct);
        return response.Status == 200 ? FhirStore.Materialise(response) as T : null;
    }
}
