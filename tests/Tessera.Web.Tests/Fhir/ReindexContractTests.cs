using Tessera.Web.Tests.Infrastructure;

namespace Tessera.Web.Tests.Fhir;

/// <summary>$reindex over HTTP: 202 with Content-Location of the job's status, which the host's worker completes.</summary>
public class ReindexContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task Reindex_answers_202_with_a_status_url_that_reports_the_job(string backend)
    {
        var client = hosts[backend];

        var started = await client.FhirPostAsync("/fhir/Organization/$reindex", "{\"resourceType\":\"Parameters\",\"parameter\":[{\"name\":\"reason\",\"valueString\":\"test\"}]}");

        Assert.True(started.Status == 202, started.ToString());
        var status = started.Header("Content-Location");
        Assert.NotNull(status);
        Assert.Contains("/fhir/$reindex-status?job=", status, StringComparison.Ordinal);
        var report = await client.FhirGetAsync(new Uri(status).PathAndQuery);
        Assert.True(report.Status == 200, report.ToString());
        Assert.Equal("Parameters", report.Json["resourceType"]!.GetValue<string>());
        var state = report.Json["parameter"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == "state")!["valueCode"]!.GetValue<string>();
        Assert.Contains(state, new[] { "queued", "running", "completed" });
    }
}
