using Hl7.Fhir.Model;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Web.Auth;

/// <summary>What <c>tessera users add</c> asks for: who the person is in the record.</summary>
internal sealed record NewUser(string UserName, string Role, string? PractitionerRole = null, string? Patient = null, string? RelatedPerson = null, bool IsDemo = false);

/// <summary>
/// People who sign in: provisioning (each tied to a PractitionerRole, a Patient or a RelatedPerson that exists in
/// the record), password checks with ASP.NET Core Identity's hasher, and lock-out after repeated failures.
/// </summary>
internal sealed class UserAccounts(FhirStore store, TimeProvider clock, AuthOptions options)
{
    public const int MinimumPasswordLength = 12;

    private static readonly PasswordHasher<UserAccount> Hasher = new();

    public static string Normalise(string userName) => userName.Trim().ToLowerInvariant();

    public async Task<UserAccount?> FindAsync(string id, CancellationToken ct)
    {
        await using var db = AuthDatabase.CreateContext(store);
        return await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == id, ct);
    }

    public async Task<IReadOnlyList<UserAccount>> ListAsync(CancellationToken ct)
    {
        await using var db = AuthDatabase.CreateContext(store);
        return await db.Users.AsNoTracking().OrderBy(u => u.UserName).ToListAsync(ct);
    }

    /// <summary>
    /// Checks a password; a wrong one counts towards lock-out. Returns the user, or why sign-in failed and whether
    /// the account is blocked (disabled, or locked — also by this attempt).
    /// </summary>
    public async Task<(UserAccount? User, string? Problem, bool Blocked)> VerifyAsync(string userName, string password, CancellationToken ct)
    {
        const string wrong = "The username or password is not right.";
        var name = Normalise(userName);
        await using var db = AuthDatabase.CreateContext(store);
        var user = await db.Users.FirstOrDefaultAsync(u => u.UserName == name, ct);
        if (user is null)
        {
            // Spend the same effort as a real check, so timing does not tell which usernames exist.
            Hasher.VerifyHashedPassword(new UserAccount { UserName = name, Role = "none", FhirUser = "none" }, DummyHash, password);
            return (null, wrong, false);
        }

        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (user.Disabled)
        {
            return (null, "This account is disabled; ask your administrator.", true);
        }

        if (user.LockedUntil > now)
        {
            return (null, "This account is locked after too many failed sign-ins; try again later or ask your administrator.", true);
        }

        var result = Hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        if (result == PasswordVerificationResult.Failed)
        {
            user.FailedSignIns++;
            if (user.FailedSignIns >= options.MaxFailedSignIns)
            {
                user.LockedUntil = now + (long)options.LockoutPeriod.TotalMilliseconds;
                user.FailedSignIns = 0;
            }

            await db.SaveChangesAsync(ct);
            return (null, wrong, user.LockedUntil > now);
        }

        if (result == PasswordVerificationResult.SuccessRehashNeeded)
        {
            user.PasswordHash = Hasher.HashPassword(user, password);
        }

        user.FailedSignIns = 0;
        user.LockedUntil = 0;
        await db.SaveChangesAsync(ct);
        return (user, null, false);
    }

    /// <summary>Adds a user after checking that the record holds who they are; throws with what to fix.</summary>
    public async Task<UserAccount> AddAsync(NewUser spec, string password, CancellationToken ct)
    {
        if (!TesseraClaims.Roles.Contains(spec.Role) || spec.Role == "system")
        {
            throw new ArgumentException($"--role must be one of {string.Join(", ", TesseraClaims.Roles.Where(r => r != "system"))} (systems are clients: tessera clients add).");
        }

        RequirePassword(password);
        var name = Normalise(spec.UserName);
        if (name.Length is 0 or > 100 || name.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException("--username must be 1 to 100 characters without spaces.");
        }

        var user = await DescribeAsync(spec, name, ct);
        user.IsDemo = spec.IsDemo;
        user.CreatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds();
        user.PasswordHash = Hasher.HashPassword(user, password);
        await using var db = AuthDatabase.CreateContext(store);
        if (await db.Users.AnyAsync(u => u.UserName == name, ct))
        {
            throw new ArgumentException($"A user named '{name}' already exists; choose another --username (tessera users list shows them).");
        }

        db.Users.Add(user);
        await db.SaveChangesAsync(ct);
        return user;
    }

    public async Task SetPasswordAsync(string userId, string password, CancellationToken ct)
    {
        RequirePassword(password);
        await using var db = AuthDatabase.CreateContext(store);
        var user = await db.Users.FirstAsync(u => u.Id == userId, ct);
        user.PasswordHash = Hasher.HashPassword(user, password);
        user.FailedSignIns = 0;
        user.LockedUntil = 0;
        await db.SaveChangesAsync(ct);
    }

    private static void RequirePassword(string password)
    {
        if (password.Length < MinimumPasswordLength)
        {
            throw new ArgumentException($"The password must be at least {MinimumPasswordLength} characters long.");
        }
    }

    private async Task<UserAccount> DescribeAsync(NewUser spec, string name, CancellationToken ct)
    {
        switch (spec.Role)
        {
            case "citizen":
                {
                    var id = IdOf(spec.Patient, "Patient", "--patient", "a citizen is tied to their Patient record");
                    var patient = await ReadAsync<Patient>("Patient", id, "--patient", ct);
                    return new UserAccount { UserName = name, Role = spec.Role, FhirUser = $"Patient/{id}", PatientId = id, DisplayName = Display(patient.Name) };
                }

            case "carer":
                {
                    var id = IdOf(spec.RelatedPerson, "RelatedPerson", "--related-person", "a carer is tied to a RelatedPerson the patient has allowed to act for them");
                    var related = await ReadAsync<RelatedPerson>("RelatedPerson", id, "--related-person", ct);
                    if (related.Active == false)
                    {
                        throw new ArgumentException($"RelatedPerson/{id} is not active: the patient no longer allows this person to act for them.");
                    }

                    var patientId = related.Patient?.Reference is { } r && r.StartsWith("Patient/", StringComparison.Ordinal) ? r["Patient/".Length..] : null;
                    if (patientId is null)
                    {
                        throw new ArgumentException($"RelatedPerson/{id} has no patient reference (RelatedPerson.patient = Patient/<id>).");
                    }

                    return new UserAccount { UserName = name, Role = spec.Role, FhirUser = $"RelatedPerson/{id}", PatientId = patientId, DisplayName = Display(related.Name) };
                }

            default:
                {
                    var id = IdOf(spec.PractitionerRole, "PractitionerRole", "--practitioner-role", "a practitioner acts in a PractitionerRole (organisation and role)");
                    var role = await ReadAsync<PractitionerRole>("PractitionerRole", id, "--practitioner-role", ct);
                    if (role.Active == false)
                    {
                        throw new ArgumentException($"PractitionerRole/{id} is not active.");
                    }

                    var practitioner = role.Practitioner?.Reference;
                    var organization = role.Organization?.Reference;
                    if (practitioner is null || !practitioner.StartsWith("Practitioner/", StringComparison.Ordinal) || organization is null || !organization.StartsWith("Organization/", StringComparison.Ordinal))
                    {
                        throw new ArgumentException($"PractitionerRole/{id} needs practitioner (Practitioner/<id>) and organization (Organization/<id>) references.");
                    }

                    var person = await ReadAsync<Practitioner>("Practitioner", practitioner["Practitioner/".Length..], "--practitioner-role", ct);
                    return new UserAccount
                    {
                        UserName = name,
                        Role = spec.Role,
                        FhirUser = practitioner,
                        PractitionerRole = $"PractitionerRole/{id}",
                        Organization = organization,
                        DisplayName = Display(person.Name),
                    };
                }
        }
    }

    private static string IdOf(string? reference, string type, string option, string why)
    {
        if (string.IsNullOrWhiteSpace(reference))
        {
            throw new ArgumentException($"Give {option}: {why}.");
        }

        var id = reference.StartsWith(type + "/", StringComparison.Ordinal) ? reference[(type.Length + 1)..] : reference;
        return id.Contains('/', StringComparison.Ordinal) ? throw new ArgumentException($"{option} takes a {type} id or {type}/<id>, not '{reference}'.") : id;
    }

    private async Task<T> ReadAsync<T>(string type, string id, string option, CancellationToken ct)
        where T : Resource
    {
        var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"{type}/{id}"), ct);
        return response.Status == 200 && FhirStore.Materialise(response) is T resource
            ? resource
            : throw new ArgumentException($"{type}/{id} is not in the record ({option}); load it first, or check the id.");
    }

    private static string? Display(IEnumerable<HumanName> names) =>
        names.FirstOrDefault() is { } n ? (n.Text ?? string.Join(' ', n.Prefix.Concat(n.Given).Append(n.Family).Where(p => !string.IsNullOrEmpty(p)))) : null;

    private static readonly string DummyHash = Hasher.HashPassword(new UserAccount { UserName = "-", Role = "-", FhirUser = "-" }, "not a password anyone has");
}
