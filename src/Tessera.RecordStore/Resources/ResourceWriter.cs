using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Storage;

namespace Tessera.RecordStore.Resources;

/// <summary>
/// Writes versions inside a caller's transaction. Concurrency rests on the database: the current row is
/// locked before the next version is numbered, and the (type, id, version) key refuses a duplicate.
/// </summary>
internal sealed partial class ResourceWriter(ResourceRepository repository, ResourceIndexer indexer, TimeProvider clock)
{
    [GeneratedRegex("^[A-Za-z0-9\\-\\.]{1,64}$")]
    private static partial Regex IdPattern();

    public static bool IsValidId(string? id) => id is not null && IdPattern().IsMatch(id);

    public static string NewId() => Guid.CreateVersion7().ToString();

    /// <summary>Told of each version written (null resource for a deletion), inside the write's transaction.</summary>
    public Func<WriteScope, string, string, Resource?, CancellationToken, System.Threading.Tasks.Task>? Written { get; set; }

    public async Task<FhirResponse> CreateAsync(WriteScope scope, Resource resource, string? id, CancellationToken ct)
    {
        id ??= NewId();
        try
        {
            // The current row is inserted with the version: an id already taken fails the insert, in one round trip.
            return await WriteAsync(scope, resource, id, 1, "POST", Now(), 201, isNew: true, ct);
        }
        catch (Exception e) when (repository.Dialect.IsUniqueViolation(e))
        {
            throw FhirException.Conflict($"{resource.TypeName}/{id} already exists.");
        }
    }

    /// <summary>Update, or create with the client's id when none exists (update-as-create).</summary>
    public async Task<FhirResponse> UpdateAsync(WriteScope scope, Resource resource, string id, long? ifMatch, string method, CancellationToken ct, PreparedTarget? prepared = null)
    {
        var type = resource.TypeName;
        var now = Now();
        var current = prepared is { Current: not null } || prepared is { Claimed: true } ? prepared.Current : await repository.LockCurrentAsync(scope, type, id, ct);
        if (current is null && prepared is not { Claimed: true })
        {
            if (ifMatch is not null)
            {
                throw FhirException.PreconditionFailed($"If-Match asks for version {ifMatch} of {type}/{id}, which does not exist.");
            }

            if (!await repository.TryClaimAsync(scope, type, id, now.ToUnixTimeMilliseconds(), null, ct))
            {
                // Another writer created it first; now that its transaction ended, update on top of it.
                current = await repository.LockCurrentAsync(scope, type, id, ct);
            }
        }

        if (ifMatch is not null && (current is null || current.Version != ifMatch))
        {
            throw FhirException.PreconditionFailed($"If-Match asks for version {ifMatch} of {type}/{id}, but the current version is {current?.Version.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}.");
        }

        var version = (current?.Version ?? 0) + 1;
        var status = current is null || current.Version == 0 || current.Deleted ? 201 : 200;
        return await WriteAsync(scope, resource, id, version, method, now, status, isNew: false, ct);
    }

    public async Task<FhirResponse> DeleteAsync(WriteScope scope, string type, string id, CancellationToken ct)
    {
        var current = await repository.LockCurrentAsync(scope, type, id, ct);
        if (current is null || current.Deleted)
        {
            // Deleting what is not there is not an error (FHIR R4 3.1.0.7.1): nothing changes.
            return new FhirResponse { Status = 204, ResourceType = type, Id = id };
        }

        var now = Now();
        var version = current.Version + 1;
        // The deletion stays in the patient's compartment, under the key the live version had.
        await repository.WriteVersionAsync(scope, new StoredVersion(type, id, version, now, true, "DELETE", null), current.PatientKey, null, isNew: false, ct);
        if (Written is not null)
        {
            await Written(scope, type, id, null, ct);
        }

        return new FhirResponse { Status = 204, ResourceType = type, Id = id, Version = version, LastModified = now };
    }

    private async Task<FhirResponse> WriteAsync(WriteScope scope, Resource resource, string id, long version, string method, DateTimeOffset now, int status, bool isNew, CancellationToken ct)
    {
        resource.Id = id;
        resource.Meta ??= new Meta();
        resource.Meta.VersionId = version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        resource.Meta.LastUpdated = now;
        var index = indexer.Extract(resource);
        var patientKey = ResourceIndexer.PatientKey(resource, index);
        var json = FhirSerialization.ToJson(resource);
        await repository.WriteVersionAsync(scope, new StoredVersion(resource.TypeName, id, version, now, false, method, json), patientKey, index, isNew, ct);
        if (Written is not null)
        {
            await Written(scope, resource.TypeName, id, resource, ct);
        }

        return new FhirResponse
        {
            Status = status,
            Resource = resource,
            Json = json,
            ResourceType = resource.TypeName,
            Id = id,
            Version = version,
            LastModified = now,
        };
    }

    private DateTimeOffset Now()
    {
        var now = clock.GetUtcNow();
        return DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds());
    }
}
