using System.Text;
using Tessera.Web.Tests.Infrastructure;
using static Tessera.Web.Tests.Infrastructure.FhirData;

namespace Tessera.Web.Tests.Fhir;

/// <summary>
/// A body is read whole and decoded as UTF-8 whatever its size and however it arrives: with a length, or chunked in
/// pieces that end in the middle of a character.
/// </summary>
public class BodyReadingContractTests(FhirHosts hosts) : IClassFixture<FhirHosts>
{
    // Characters of one to four bytes in UTF-8, repeated past the first buffer a chunked body is read into (16 KiB)
    // and past several of its doublings.
    private static readonly string Given = string.Concat(Enumerable.Repeat("aé漢😀", 20_000));

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_large_body_with_a_length_is_stored_intact(string backend)
    {
        var client = hosts[backend];
        var family = "Length" + Unique();

        var created = await client.FhirPostAsync("/fhir/Patient", Patient(family, given: Given));

        Assert.Equal(201, created.Status);
        AssertGiven(await client.FhirGetAsync($"/fhir/Patient/{created.Id}"));
    }

    [Theory]
    [MemberData(nameof(FhirHosts.Backends), MemberType = typeof(FhirHosts))]
    public async Task A_large_chunked_body_in_small_pieces_is_stored_intact(string backend)
    {
        var client = hosts[backend];
        var family = "Chunked" + Unique();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/fhir/Patient")
        {
            // Pieces of 1,000 bytes: most end inside a multi-byte character.
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(Patient(family, given: Given))), 1000),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(FhirHttp.FhirJson);
        request.Headers.TransferEncodingChunked = true;

        var created = await client.SendFhirAsync(request);

        Assert.Equal(201, created.Status);
        AssertGiven(await client.FhirGetAsync($"/fhir/Patient/{created.Id}"));
    }

    private static void AssertGiven(FhirResult read)
    {
        Assert.Equal(200, read.Status);
        Assert.Equal(Given, read.Json["name"]![0]!["given"]![0]!.GetValue<string>());
    }
}
