using Hl7.Fhir.Model;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;
using Tessera.Testing;

namespace Tessera.RecordStore.Tests.Operations;

public sealed class OperationRegistryTests : IAsyncLifetime
{
    private TestDatabase _db = null!;
    private FhirStore _store = null!;

    public async System.Threading.Tasks.Task InitializeAsync()
    {
        _db = await TestDatabase.CreateAsync("sqlite");
        _store = await FhirStore.OpenAsync(_db.Location);
        _store.Operations.Register(new EchoOperation());
        _store.Operations.Register(new TouchOperation());
    }

    public async System.Threading.Tasks.Task DisposeAsync()
    {
        await _store.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async System.Threading.Tasks.Task Get_passes_the_query_as_parameters_at_every_level()
    {
        var system = await _store.ExecuteAsync(FhirRequest.FromUrl("GET", "$echo?word=one"));
        var type = await _store.ExecuteAsync(FhirRequest.FromUrl("GET", "Patient/$echo?word=two"));
        var instance = await _store.ExecuteAsync(FhirRequest.FromUrl("GET", "Patient/p1/$echo?word=three"));

        Assert.Equal("System||one", Said(system));
        Assert.Equal("Type|Patient|two", Said(type));
        Assert.Equal("Instance|Patient/p1|three", Said(instance));
    }

    [Fact]
    public async System.Threading.Tasks.Task Post_takes_a_parameters_body_or_a_single_resource()
    {
        var parameters = new Parameters();
        parameters.Add("word", new FhirString("body"));
        var fromParameters = await _store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient/$echo", parameters));
        var fromResource = await _store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient/$echo", new Patient { Id = "x" }));

        Assert.Equal("Type|Patient|body", Said(fromParameters));
        Assert.Equal("Type|Patient|Patient", Said(fromResource));
    }

    [Fact]
    public async System.Threading.Tasks.Task Unknown_or_misplaced_operations_are_404_and_state_changing_ones_refuse_get()
    {
        var unknown = await _store.ExecuteAsync(FhirRequest.FromUrl("GET", "Patient/$nothing"));
        var wrongType = await _store.ExecuteAsync(FhirRequest.FromUrl("POST", "Observation/$touch"));
        var get = await _store.ExecuteAsync(FhirRequest.FromUrl("GET", "Patient/$touch"));
        var post = await _store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient/$touch"));

        Assert.Equal(404, unknown.Status);
        Assert.Contains("$nothing", unknown.Outcome!.Issue[0].Diagnostics, StringComparison.Ordinal);
        Assert.Equal(404, wrongType.Status);
        Assert.Equal(405, get.Status);
        Assert.Equal(200, post.Status);
        Assert.Throws<InvalidOperationException>(() => _store.Operations.Register(new EchoOperation()));
    }

    [Fact]
    public async System.Threading.Tasks.Task The_capability_statement_lists_registered_operations_where_they_apply()
    {
        var response = await _store.ExecuteAsync(FhirRequest.FromUrl("GET", "metadata"));
        var rest = Assert.IsType<CapabilityStatement>(response.Resource).Rest[0];

        Assert.Contains(rest.Operation, o => o.Name == "echo");
        Assert.Contains(rest.Resource.Single(r => r.Type == "Patient").Operation, o => o.Name == "touch");
        Assert.DoesNotContain(rest.Resource.Single(r => r.Type == "Observation").Operation, o => o.Name == "touch");
    }

    private static string Said(FhirResponse response)
    {
        Assert.Equal(200, response.Status);
        return Assert.IsType<Parameters>(response.Resource).GetSingleValue<FhirString>("said")?.Value ?? string.Empty;
    }

    private sealed class EchoOperation : FhirOperation
    {
        public override string Name => "echo";

        public override OperationLevel Levels => OperationLevel.System | OperationLevel.Type | OperationLevel.Instance;

        public override bool AffectsState => false;

        public override Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct)
        {
            var where = invocation.Id is null ? invocation.ResourceType : $"{invocation.ResourceType}/{invocation.Id}";
            var word = invocation.Value("word") ?? invocation.ResourceParameter("resource")?.TypeName;
            var result = new Parameters();
            result.Add("said", new FhirString($"{invocation.Level}|{where}|{word}"));
            return System.Threading.Tasks.Task.FromResult(new FhirResponse { Resource = result });
        }
    }

    private sealed class TouchOperation : FhirOperation
    {
        public override string Name => "touch";

        public override OperationLevel Levels => OperationLevel.Type;

        public override IReadOnlyCollection<string> ResourceTypes => ["Patient"];

        public override Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct) =>
            System.Threading.Tasks.Task.FromResult(new FhirResponse { Resource = new Parameters() });
    }
}
