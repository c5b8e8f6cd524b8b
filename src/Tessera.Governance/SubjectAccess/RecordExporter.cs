using Hl7.Fhir.Model;
using Tessera.Governance.Audit;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;

namespace Tessera.Governance.SubjectAccess;

/// <summary>
/// Everything held about a person (GDPR Article 15): every resource in the Patient compartment of each of the
/// person's records (the record asked for and those linked by a master patient record), and every audit event about
/// them — as one collection Bundle.
/// </summary>
internal sealed class RecordExporter(FhirStore store, AuditTrail audit)
{
    public async Task<Bundle> ExportAsync(string patient, FhirRequest? outer, CancellationToken ct)
    {
        HashSet<string> keys;
        await using (var connection = await store.OpenConnectionAsync(ct))
        {
            keys = await AuditQuery.PersonKeysAsync(connection, patient, ct);
        }

        var baseUrl = outer?.BaseUrl ?? "http://localhost/fhir";
        var bundle = new Bundle { Id = Guid.NewGuid().ToString(), Type = Bundle.BundleType.Collection, Timestamp = DateTimeOffset.UtcNow, Meta = new Meta { LastUpdated = DateTimeOffset.UtcNow } };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var key in keys.Order(StringComparer.Ordinal))
        {
            var read = await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"Patient/{key}", baseUrl: baseUrl), ct);
            if (read.Status != 200)
            {
                continue;
            }

            Add(bundle, seen, FhirStore.Materialise(read), baseUrl);
            foreach (var type in FhirStore.PatientCompartmentTypes.Where(t => t is not ("Patient" or "AuditEvent")))
            {
                string? next = $"Patient/{key}/{type}?_count=1000";
                while (next is not null)
                {
                    var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", next, baseUrl: baseUrl), ct);
                    if (response.Resource is not Bundle page)
                    {
                        break;
                    }

                    foreach (var resource in page.Entry.Where(e => e.Search?.Mode != Bundle.SearchEntryMode.Outcome).Select(e => e.Resource).OfType<Resource>())
                    {
                        Add(bundle, seen, resource, baseUrl);
                    }

                    next = page.NextLink?.ToString() is { } link ? link[(baseUrl.TrimEnd('/').Length + 1)..] : null;
                }
            }
        }

        await audit.FlushAsync();
        await using (var connection = await store.OpenConnectionAsync(ct))
        await using (var cmd = connection.CreateCommand())
        {
            var names = keys.Select((k, i) =>
            {
                var p = cmd.CreateParameter();
                p.ParameterName = $"@k{i}";
                p.Value = k;
                cmd.Parameters.Add(p);
                return p.ParameterName;
            }).ToList();
            cmd.CommandText = $"SELECT a.seq, a.id, a.recorded, a.patient_keys, a.json FROM gov_audit_event a WHERE {AuditSubjects.ConcernsAny(connection, "a", names)} ORDER BY a.seq";
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                // A batch row concerns every patient of its events: only the events about this person are theirs.
                foreach (var ev in AuditRows.Events(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4), (_, _, patients) => AuditRows.Concerns(patients, keys)))
                {
                    Add(bundle, seen, ev.Restore(), baseUrl);
                }
            }
        }

        bundle.Total = bundle.Entry.Count;
        return bundle;
    }

    private static void Add(Bundle bundle, HashSet<string> seen, Resource resource, string baseUrl)
    {
        if (seen.Add($"{resource.TypeName}/{resource.Id}"))
        {
            bundle.Entry.Add(new Bundle.EntryComponent { FullUrl = $"{baseUrl.TrimEnd('/')}/{resource.TypeName}/{resource.Id}", Resource = resource });
        }
    }
}
