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
    private const string TesseraRoles = "urn:tessera:role";

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

    /// <summary>
    /// In demo mode (the store holds the demo region), the sign-in details to print at start; otherwise null.
    /// </summary>
    public static async Task<string?> SignInSheetAsync(FhirStore store, string baseUrl, CancellationToken ct)
    {
        if (!await IsDemoRegionAsync(store, ct))
        {
            return null;
        }

        await using var admin = await AuthAdministration.OpenAsync(store, ct);
        var (users, secret) = await PrepareAsync(store, admin, ct);
        var sheet = new System.Text.StringBuilder();
        sheet.AppendLine($"Demo sign-in (demo mode only; passwords change at every start). Sign in at {baseUrl.TrimEnd('/')}/auth/signin through a SMART app, or take a token:");
        foreach (var user in users)
        {
            sheet.AppendLine($"  {user.Role,-14} {user.UserName,-20} password {user.Password}   ({user.Who})");
        }

        sheet.AppendLine($"  system client  {SystemClientId,-20} secret   {secret}   (client_credentials, system/*.cruds)");
        sheet.AppendLine($"  e.g. curl -s -d grant_type=client_credentials -d client_id={SystemClientId} -d client_secret={secret} -d 'scope=system/*.rs' {baseUrl.TrimEnd('/')}/auth/token");
        return sheet.ToString();
    }

    private static string NewPassword() => Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();

    private static async Task<List<NewUser>> SpecsAsync(FhirStore store, CancellationToken ct)
    {
        var specs = new List<NewUser>();
        async Task AddRoleAsync(string role, string query)
        {
            var found = (await SearchAsync<PractitionerRole>(store, query, ct)).FirstOrDefault();
            if (found is not null)
            {
                specs.Add(new NewUser($"demo-{role}", role, PractitionerRole: found.Id, IsDemo: true));
            }
        }

        // The demo region marks its staff's roles in the code system the access policy reads (docs/demo.md).
        foreach (var role in new[] { "gp", "nurse", "paramedic", "clinician-111", "social-worker", "admin-staff", "ig-lead" })
        {
            await AddRoleAsync(role, $"PractitionerRole?role={TesseraRoles}|{role}");
        }

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
}
