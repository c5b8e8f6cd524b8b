using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;
using Tessera.RecordStore;
using Tessera.RecordStore.Machinery;

namespace Tessera.Web.Auth;

/// <summary>
/// Creates sign-in's tables (through the store's part migrations, so several nodes may start together) and the
/// keys all nodes share: they live in the database, never in the repository or on one node's disk.
/// </summary>
internal static class AuthDatabase
{
    public const string Part = "auth";
    private const string SigningKeyId = "token-signing-rsa";
    private const string EncryptionKeyId = "token-encryption-aes";

    public static AuthDbContext CreateContext(FhirStore store)
    {
        var options = new DbContextOptionsBuilder<AuthDbContext>();
        AuthDbContext.Configure(options, store.Location);
        return new AuthDbContext(options.Options);
    }

    /// <summary>Creates or upgrades the tables; version 1 is the schema EF Core derives from <see cref="AuthDbContext"/>.</summary>
    public static async Task MigrateAsync(FhirStore store, CancellationToken ct)
    {
        await using var db = CreateContext(store);
        var create = db.Database.GenerateCreateScript();
        await store.MigratePartAsync(Part, [new PartMigration(create, create)], ct);
    }

    /// <summary>The shared token keys, made on first use by whichever node gets there first.</summary>
    public static async Task<(SecurityKey Signing, SecurityKey Encryption)> LoadKeysAsync(FhirStore store, TimeProvider clock, CancellationToken ct)
    {
        var signingPem = await GetOrCreateAsync(store, SigningKeyId, () =>
        {
            using var rsa = RSA.Create(2048);
            return rsa.ExportPkcs8PrivateKeyPem();
        }, clock, ct);
        var encryption = await GetOrCreateAsync(store, EncryptionKeyId, () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), clock, ct);

        var signingRsa = RSA.Create();
        signingRsa.ImportFromPem(signingPem);
        var signing = new RsaSecurityKey(signingRsa) { KeyId = KeyIdOf(signingRsa) };
        return (signing, new SymmetricSecurityKey(Convert.FromBase64String(encryption)));
    }

    private static string KeyIdOf(RSA rsa) =>
        Base64UrlEncoder.Encode(SHA256.HashData(rsa.ExportSubjectPublicKeyInfo()))[..16];

    private static async Task<string> GetOrCreateAsync(FhirStore store, string id, Func<string> make, TimeProvider clock, CancellationToken ct)
    {
        await using (var db = CreateContext(store))
        {
            if (await db.Keys.AsNoTracking().FirstOrDefaultAsync(k => k.Id == id, ct) is { } existing)
            {
                return existing.Material;
            }

            db.Keys.Add(new AuthKey { Id = id, Material = make(), CreatedAt = clock.GetUtcNow().ToUnixTimeMilliseconds() });
            try
            {
                await db.SaveChangesAsync(ct);
            }
            catch (DbUpdateException)
            {
                // Another node made it at the same moment: use theirs.
            }
        }

        await using var again = CreateContext(store);
        return (await again.Keys.AsNoTracking().FirstAsync(k => k.Id == id, ct)).Material;
    }
}
