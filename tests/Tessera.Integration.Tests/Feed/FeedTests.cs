using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;
using Tessera.Integration.Inbox;
using Tessera.Integration.Mllp;
using Tessera.Integration.Pipeline;
using Tessera.RecordStore;
using Tessera.RecordStore.Interactions;

namespace Tessera.Integration.Tests.Feed;

/// <summary>The feed over real sockets on both backends: acknowledgements, the durable inbox, the pipeline, dead letters.</summary>
public sealed class FeedTests(FeedFixture fixture) : IClassFixture<FeedFixture>
{
    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task An_AA_means_the_message_is_stored_and_a_resend_is_not_processed_twice(string backend)
    {
        var (control, mrn, visit) = (Messages.NewId("C"), Messages.NewId("M"), Messages.NewId("V"));
        var message = Messages.Adt("A01", control, mrn, visit);

        var ack = await SendAsync(backend, message);

        Assert.Equal("AA", ack.Get("MSA-1"));
        Assert.Equal(control, ack.Get("MSA-2"));
        var stored = Assert.Single(await StoredAsync(backend, control));
        Assert.Equal("pending", stored.State);
        Assert.Equal("ADT^A01", stored.Event);

        var again = await SendAsync(backend, message);
        Assert.Equal("AA", again.Get("MSA-1"));
        Assert.Contains("already received", again.Get("MSA-3"), StringComparison.Ordinal);
        Assert.Single(await StoredAsync(backend, control));

        await fixture.Feed(backend).Pipeline.DrainAsync(16, default);
        Assert.Equal("done", Assert.Single(await StoredAsync(backend, control)).State);

        // Resent after processing: acknowledged, and still one Patient, one Encounter, one Provenance.
        Assert.Equal("AA", (await SendAsync(backend, message)).Get("MSA-1"));
        await fixture.Feed(backend).Pipeline.DrainAsync(16, default);
        var patient = Assert.IsType<Patient>(Assert.Single(await SearchAsync(backend, $"Patient?identifier={Messages.PatientSystem}|{mrn}")));
        Assert.Contains(patient.Identifier, i => i.System == "https://fhir.nhs.uk/Id/nhs-number" && i.Value == "9434765919");
        Assert.Equal("SMITH", patient.Name[0].Family);
        Assert.Equal("RXH", patient.ManagingOrganization.Identifier.Value);
        var encounter = Assert.IsType<Encounter>(Assert.Single(await SearchAsync(backend, $"Encounter?identifier={Messages.EncounterSystem}|{visit}")));
        Assert.Equal($"Patient/{patient.Id}", encounter.Subject.Reference);
        Assert.Equal(Encounter.EncounterStatus.InProgress, encounter.Status);
        var provenance = Assert.IsType<Provenance>(Assert.Single(await SearchAsync(backend, $"Provenance?target=Patient/{patient.Id}")));
        Assert.Equal(control, provenance.Entity[0].What.Identifier.Value);
        Assert.Equal("PAS|RXH", provenance.Agent[0].Who.Identifier.Value);
        Assert.Contains(provenance.Target, t => t.Reference.StartsWith($"Encounter/{encounter.Id}/_history/", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task Later_messages_update_the_same_source_patient_and_visit(string backend)
    {
        var (mrn, visit) = (Messages.NewId("M"), Messages.NewId("V"));
        Assert.Equal("AA", (await SendAsync(backend, Messages.Adt("A01", Messages.NewId("C"), mrn, visit))).Get("MSA-1"));
        Assert.Equal("AA", (await SendAsync(backend, Messages.Adt("A03", Messages.NewId("C"), mrn, visit))).Get("MSA-1"));

        await fixture.Feed(backend).Pipeline.DrainAsync(16, default);

        Assert.Single(await SearchAsync(backend, $"Patient?identifier={Messages.PatientSystem}|{mrn}"));
        var encounter = Assert.IsType<Encounter>(Assert.Single(await SearchAsync(backend, $"Encounter?identifier={Messages.EncounterSystem}|{visit}")));
        Assert.Equal(Encounter.EncounterStatus.Finished, encounter.Status);
        Assert.Equal("2", encounter.Meta.VersionId);
    }

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task Wrong_content_gets_AE_naming_segment_and_field_and_is_not_stored(string backend)
    {
        var control = Messages.NewId("C");
        var noLocalNumber = Messages.Header("ADT^A01^ADT_A01", control) + "EVN|A01|20260301\rPID|1||9434765919^^^NHS^NH||SMITH^ALICE||19750412|F\rPV1|1|I|WARD 7||||||||||||||||V1\r";

        var ack = await SendAsync(backend, noLocalNumber);

        Assert.Equal("AE", ack.Get("MSA-1"));
        Assert.Equal("PID", ack.Get("ERR-2.1"));
        Assert.Equal("3", ack.Get("ERR-2.2"));
        Assert.Equal("3", ack.Get("ERR-2.3"));
        Assert.Equal("101", ack.Get("ERR-3.1"));
        Assert.Contains("local identifier", ack.Get("ERR-7"), StringComparison.Ordinal);
        Assert.Empty(await StoredAsync(backend, control));

        var badSex = await SendAsync(backend, Messages.Adt("A04", Messages.NewId("C"), Messages.NewId("M")).Replace("|19750412|F|", "|19750412|Q|", StringComparison.Ordinal));
        Assert.Equal("AE", badSex.Get("MSA-1"));
        Assert.Equal("8", badSex.Get("ERR-2.3"));
        Assert.Equal("103", badSex.Get("ERR-3.1"));
    }

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task Unsupported_types_and_unknown_senders_get_AR(string backend)
    {
        var trigger = await SendAsync(backend, Messages.Adt("A99", Messages.NewId("C"), Messages.NewId("M")));
        Assert.Equal("AR", trigger.Get("MSA-1"));
        Assert.Equal("201", trigger.Get("ERR-3.1"));

        var type = await SendAsync(backend, Messages.Header("QRY^A19^QRY_A19", Messages.NewId("C")) + "QRD|20260301|R|I|Q1\r");
        Assert.Equal("AR", type.Get("MSA-1"));
        Assert.Equal("200", type.Get("ERR-3.1"));

        var control = Messages.NewId("C");
        var stranger = await SendAsync(backend, Messages.Adt("A01", control, Messages.NewId("M"), Messages.NewId("V")).Replace("|PAS|RXH|", "|LIMS|ELSEWHERE|", StringComparison.Ordinal));
        Assert.Equal("AR", stranger.Get("MSA-1"));
        Assert.Equal("MSH", stranger.Get("ERR-2.1"));
        Assert.Equal("4", stranger.Get("ERR-2.3"));
        Assert.Contains("not a configured source", stranger.Get("MSA-3"), StringComparison.Ordinal);
        Assert.Empty(await StoredAsync(backend, control));
    }

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task Many_connections_at_once_each_get_their_own_durable_AA(string backend)
    {
        const int Connections = 8;
        const int PerConnection = 15;
        var prefix = Messages.NewId("G");
        var port = fixture.Feed(backend).MllpEndPoint!.Port;
        var acks = await System.Threading.Tasks.Task.WhenAll(Enumerable.Range(0, Connections).Select(async c =>
        {
            await using var client = await MllpClient.ConnectAsync("127.0.0.1", port);
            var codes = new List<string?>();
            for (var i = 0; i < PerConnection; i++)
            {
                var ack = await client.SendAsync(Hl7Message.Parse(Messages.Adt("A04", $"{prefix}-{c}-{i}", $"{prefix}M{c}-{i}")));
                codes.Add(ack.Get("MSA-1"));
            }

            return codes;
        }));

        Assert.All(acks.SelectMany(a => a), code => Assert.Equal("AA", code));
        var stored = (await fixture.Feed(backend).Inbox.ListAsync(null, null, 100_000, default)).Where(m => m.ControlId.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        Assert.Equal(Connections * PerConnection, stored.Count);
        Assert.Equal(stored.Count, stored.Select(m => m.ControlId).Distinct().Count());
    }

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task A_message_that_cannot_be_written_is_dead_lettered_and_replayed_after_the_fix(string backend)
    {
        var store = fixture.Store(backend);
        var mrn = Messages.NewId("M");

        // Two Patients already carry the source's number: the conditional update cannot tell which to update.
        var first = await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient", new Patient { Identifier = [new Identifier(Messages.PatientSystem, mrn)] }));
        await store.ExecuteAsync(FhirRequest.FromUrl("POST", "Patient", new Patient { Identifier = [new Identifier(Messages.PatientSystem, mrn)] }));
        var control = Messages.NewId("C");
        Assert.Equal("AA", (await SendAsync(backend, Messages.Adt("A08", control, mrn))).Get("MSA-1"));
        await fixture.Feed(backend).Pipeline.DrainAsync(16, default);

        var dead = Assert.Single(await StoredAsync(backend, control));
        Assert.Equal("dead", dead.State);
        Assert.Contains("412", dead.Error, StringComparison.Ordinal);
        Assert.Contains(await Hl7Admin.DeadLettersAsync(store), m => m.Id == dead.Id);

        // The fix: the duplicate goes; the replay then updates the one that is left.
        Assert.Equal(200, (await store.ExecuteAsync(FhirRequest.FromUrl("DELETE", $"Patient/{first.Id}"))).Status is 200 or 204 ? 200 : 0);
        var replayed = Assert.Single(await Hl7Admin.ReplayAsync(store, FeedFixture.Options(), dead.Id));
        Assert.Equal("done", replayed.State);
        var patient = Assert.IsType<Patient>(Assert.Single(await SearchAsync(backend, $"Patient?identifier={Messages.PatientSystem}|{mrn}")));
        Assert.Equal("SMITH", patient.Name[0].Family);
        await Assert.ThrowsAsync<InvalidOperationException>(() => Hl7Admin.ReplayAsync(store, FeedFixture.Options(), dead.Id));
    }

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task A_results_message_writes_a_report_with_its_observations(string backend)
    {
        var (mrn, order) = (Messages.NewId("M"), Messages.NewId("F"));
        var oru = Messages.Header("ORU^R01^ORU_R01", Messages.NewId("C"))
            + $"PID|1||{mrn}^^^RXH^MR||SMITH^ALICE||19750412|F\r"
            + $"OBR|1|P1|{order}|58410-2^CBC panel^LN|||20260301090000|||||||||||||||20260301110000||HM|F\r"
            + "OBX|1|NM|718-7^Hemoglobin^LN||135|g/L^g/L^UCUM|115-165|N|||F\r"
            + "OBX|2|ST|8251-1^Comment^LN||Slightly haemolysed||||||F\r";
        Assert.Equal("AA", (await SendAsync(backend, oru)).Get("MSA-1"));
        await fixture.Feed(backend).Pipeline.DrainAsync(16, default);

        var report = Assert.IsType<DiagnosticReport>(Assert.Single(await SearchAsync(backend, $"DiagnosticReport?identifier={Messages.IdentifierBase}/report|{order}")));
        Assert.Equal(2, report.Result.Count);
        var hb = Assert.IsType<Observation>(Assert.Single(await SearchAsync(backend, $"Observation?_id={report.Result[0].Reference["Observation/".Length..]}")));
        Assert.Equal(135m, ((Quantity)hb.Value).Value);
        Assert.Equal(report.Subject.Reference, hb.Subject.Reference);
    }

    [Theory]
    [MemberData(nameof(FeedFixture.Backends), MemberType = typeof(FeedFixture))]
    public async System.Threading.Tasks.Task A40_without_the_index_merge_operation_is_dead_lettered_with_the_reason(string backend)
    {
        var (survivor, retired) = (Messages.NewId("M"), Messages.NewId("M"));
        Assert.Equal("AA", (await SendAsync(backend, Messages.Adt("A28", Messages.NewId("C"), survivor))).Get("MSA-1"));
        Assert.Equal("AA", (await SendAsync(backend, Messages.Adt("A28", Messages.NewId("C"), retired))).Get("MSA-1"));
        var control = Messages.NewId("C");
        var merge = Messages.Adt("A40", control, survivor, extra: $"MRG|{retired}^^^RXH^MR\r").Replace("ADT^A40^ADT_A01", "ADT^A40^ADT_A39", StringComparison.Ordinal);
        Assert.Equal("AA", (await SendAsync(backend, merge)).Get("MSA-1"));

        await fixture.Feed(backend).Pipeline.DrainAsync(16, default);

        var dead = Assert.Single(await StoredAsync(backend, control));
        Assert.Equal("dead", dead.State);
        Assert.Contains("Patient/$merge is not available", dead.Error, StringComparison.Ordinal);
        Assert.Single(await SearchAsync(backend, $"Patient?identifier={Messages.PatientSystem}|{retired}"));
    }

    [Fact]
    public async System.Threading.Tasks.Task With_a_certificate_configured_every_connection_is_TLS()
    {
        using var certificate = Mllp.MllpListenerTests.SelfSignedCertificate();
        var file = Path.Combine(Path.GetTempPath(), $"tessera-mllp-{Guid.NewGuid():N}.pfx");
        await File.WriteAllBytesAsync(file, certificate.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12, "test-only"));
        try
        {
            var options = FeedFixture.Options();
            options.CertificatePath = file;
            options.CertificatePassword = "test-only";
            await using var feed = await Hl7Feed.StartAsync(fixture.Store("sqlite"), options);
            await using var client = await MllpClient.ConnectAsync("localhost", feed.MllpEndPoint!.Port, new MllpClientOptions
            {
                UseTls = true,
                ServerCertificateValidation = (_, presented, _, _) => presented?.GetCertHashString() == certificate.GetCertHashString(),
            });

            var ack = await client.SendAsync(Hl7Message.Parse(Messages.Adt("A28", Messages.NewId("C"), Messages.NewId("M"))));

            Assert.Equal("AA", ack.Get("MSA-1"));
            await Assert.ThrowsAnyAsync<IOException>(async () =>
            {
                await using var plain = await MllpClient.ConnectAsync("127.0.0.1", feed.MllpEndPoint!.Port, new MllpClientOptions { AckTimeout = TimeSpan.FromSeconds(20) });
                await plain.SendAsync(Hl7Message.Parse(Messages.Adt("A28", Messages.NewId("C"), Messages.NewId("M"))));
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    private async Task<Hl7Message> SendAsync(string backend, string message)
    {
        await using var client = await MllpClient.ConnectAsync("127.0.0.1", fixture.Feed(backend).MllpEndPoint!.Port);
        return await client.SendAsync(Hl7Message.Parse(message, Hl7ParseOptions.Lenient));
    }

    private async Task<List<Hl7InboxMessage>> StoredAsync(string backend, string control) =>
        (await fixture.Feed(backend).Inbox.ListAsync(null, null, 100_000, default)).Where(m => m.ControlId == control).ToList();

    private async Task<List<Resource>> SearchAsync(string backend, string url)
    {
        var response = await fixture.Store(backend).ExecuteAsync(FhirRequest.FromUrl("GET", url));
        Assert.Equal(200, response.Status);
        return [.. ((Bundle)response.Resource!).Entry.Where(e => e.Search?.Mode != Bundle.SearchEntryMode.Include).Select(e => e.Resource)];
    }
}
