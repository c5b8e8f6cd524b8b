using System.Net;
using Tessera.RecordStore;
using Tessera.Web.Tests.Infrastructure;

namespace Tessera.Web.Tests.Hosting;

/// <summary>
/// Shutting the host down drains the audit trail into the database before the store closes: a read answered just
/// before the stop (its event queued, not yet appended) is still in the trail afterwards.
/// </summary>
public class ShutdownTests
{
    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Reads_answered_before_a_shutdown_are_in_the_audit_trail_after_it(string backend)
    {
        await using var host = await TesseraHost.StartAsync(backend, new Dictionary<string, string?>
        {
            // A long linger keeps the read's event queued until the stop.
            ["Governance:AuditLingerMilliseconds"] = "60000",
        });
        var id = $"shutdown-{Guid.NewGuid():N}"[..30];
        var put = await host.Client.FhirPutAsync($"/fhir/Patient/{id}", $$"""{"resourceType":"Patient","id":"{{id}}"}""");
        Assert.Equal(HttpStatusCode.Created, put.Message.StatusCode);
        var read = await host.Client.FhirGetAsync($"/fhir/Patient/{id}");
        Assert.Equal(HttpStatusCode.OK, read.Message.StatusCode);

        await host.StopAsync();

        await using var store = await FhirStore.OpenAsync(host.Database);
        await using var connection = await store.OpenConnectionAsync(default);
        await using var cmd = FhirStore.Command(connection, "SELECT json FROM gov_audit_event");
        var events = new List<string>();
        await using (var reader = await cmd.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                events.Add(reader.GetString(0));
            }
        }

        // The create (appended with its write) and the read (queued) both name the Patient.
        Assert.Equal(2, events.Count(e => e.Contains($"Patient/{id}", StringComparison.Ordinal)));
    }
}
