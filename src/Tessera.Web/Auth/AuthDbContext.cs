using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using OpenIddict.EntityFrameworkCore.Models;
using Tessera.RecordStore.Storage;

namespace Tessera.Web.Auth;

/// <summary>A person who signs in: a practitioner in a role, a citizen, or a carer.</summary>
internal sealed class UserAccount
{
    public string Id { get; set; } = Guid.NewGuid().ToString("N");

    /// <summary>The sign-in name, stored lower-case.</summary>
    public required string UserName { get; set; }

    public string? DisplayName { get; set; }

    public string PasswordHash { get; set; } = string.Empty;

    /// <summary>One of <see cref="TesseraClaims.Roles"/>.</summary>
    public required string Role { get; set; }

    /// <summary>Practitioner/x, Patient/x or RelatedPerson/x.</summary>
    public required string FhirUser { get; set; }

    /// <summary>PractitionerRole/x for practitioners.</summary>
    public string? PractitionerRole { get; set; }

    /// <summary>Organization/x for practitioners.</summary>
    public string? Organization { get; set; }

    /// <summary>The patient a citizen is, or a carer acts for (a Patient id).</summary>
    public string? PatientId { get; set; }

    /// <summary>Created by the demo region: its password is reset and printed at each demo start.</summary>
    public bool IsDemo { get; set; }

    public bool Disabled { get; set; }

    public int FailedSignIns { get; set; }

    /// <summary>Unix milliseconds until which sign-in is refused after too many failures.</summary>
    public long LockedUntil { get; set; }

    public long CreatedAt { get; set; }
}

/// <summary>A launch id bound to a patient in context (EHR launch, or a practitioner's pick in a standalone launch).</summary>
internal sealed class LaunchContext
{
    public string Id { get; set; } = Guid.NewGuid().ToString("N");

    public required string PatientId { get; set; }

    /// <summary>The user the launch is for (null when a system created it for any of its users).</summary>
    public string? UserId { get; set; }

    /// <summary>Who created it: a user id or a client id.</summary>
    public required string CreatedBy { get; set; }

    public long ExpiresAt { get; set; }
}

/// <summary>Key material every web node shares: the token signing and encryption keys.</summary>
internal sealed class AuthKey
{
    public required string Id { get; set; }

    public required string Material { get; set; }

    public long CreatedAt { get; set; }
}

/// <summary>
/// Sign-in's own tables, all prefixed gov_: OpenIddict's applications, authorizations, scopes and tokens, users,
/// launch contexts, shared keys and the ASP.NET Core data protection key ring (so every node reads every cookie).
/// </summary>
internal sealed class AuthDbContext(DbContextOptions<AuthDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    public DbSet<UserAccount> Users => Set<UserAccount>();

    public DbSet<LaunchContext> LaunchContexts => Set<LaunchContext>();

    public DbSet<AuthKey> Keys => Set<AuthKey>();

    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();

    public static void Configure(DbContextOptionsBuilder options, DatabaseLocation location)
    {
        if (location.Kind == DatabaseKind.Postgres)
        {
            options.UseNpgsql(location.ConnectionString);
        }
        else
        {
            options.UseSqlite(location.ConnectionString);
        }

        // One process may hold contexts on both providers (the tests do): the model must be cached per provider.
        options.ReplaceService<IModelCacheKeyFactory, ProviderModelCacheKeyFactory>();
    }

    protected override void OnModelCreating(ModelBuilder builder)
    {
        builder.UseOpenIddict();
        builder.Entity<OpenIddictEntityFrameworkCoreApplication>().ToTable("gov_oauth_applications");
        builder.Entity<OpenIddictEntityFrameworkCoreAuthorization>().ToTable("gov_oauth_authorizations");
        builder.Entity<OpenIddictEntityFrameworkCoreScope>().ToTable("gov_oauth_scopes");
        builder.Entity<OpenIddictEntityFrameworkCoreToken>().ToTable("gov_oauth_tokens");
        builder.Entity<UserAccount>(e =>
        {
            e.ToTable("gov_users");
            e.HasKey(u => u.Id);
            e.HasIndex(u => u.UserName).IsUnique();
            e.Property(u => u.UserName).HasMaxLength(100);
        });
        builder.Entity<LaunchContext>(e =>
        {
            e.ToTable("gov_launch_contexts");
            e.HasKey(l => l.Id);
        });
        builder.Entity<AuthKey>(e =>
        {
            e.ToTable("gov_auth_keys");
            e.HasKey(k => k.Id);
        });
        builder.Entity<DataProtectionKey>().ToTable("gov_data_protection_keys");
    }

    private sealed class ProviderModelCacheKeyFactory : IModelCacheKeyFactory
    {
        public object Create(DbContext context, bool designTime) => (context.GetType(), context.Database.ProviderName, designTime);
    }
}
