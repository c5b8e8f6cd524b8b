using Hl7.Fhir.Model;
using Tessera.Identity.Index;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Operations;
using Task = System.Threading.Tasks.Task;

namespace Tessera.Identity.Operations;

/// <summary>
/// IHE PIXm Get Corresponding Identifiers (ITI-83), <c>Patient/$ihe-pix?sourceIdentifier=system|value[&amp;targetSystem=...]</c>:
/// the identifiers and Patient references that every source holds for the same person, found through the master.
/// </summary>
internal sealed class PixOperation(MasterPatientIndex index) : FhirOperation
{
    public override string Name => "ihe-pix";

    public override OperationLevel Levels => OperationLevel.Type;

    public override IReadOnlyCollection<string> ResourceTypes => ["Patient"];

    public override bool AffectsState => false;

    public override string? Definition => "https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix";

    public override string? Documentation => "IHE PIXm ITI-83: corresponding identifiers of a patient across sources, through the master patient index.";

    public override async Task<FhirResponse> ExecuteAsync(OperationInvocation invocation, CancellationToken ct)
    {
        var sourceText = invocation.Value("sourceIdentifier");
        if (sourceText is null || sourceText.Split('|') is not [{ Length: > 0 } system, { Length: > 0 } value])
        {
            throw FhirException.BadRequest("sourceIdentifier is required as system|value (for example https://fhir.nhs.uk/Id/nhs-number|9434765919).", "Parameters.parameter[sourceIdentifier]", OperationOutcome.IssueType.Required);
        }

        var targetSystems = invocation.Parameters.Parameter.Where(p => p.Name == "targetSystem").Select(p => p.Value?.ToString()).OfType<string>().ToList();
        var store = index.Store;
        var found = await PatientInputs.FindByIdentifierAsync(store, invocation.Transaction, system, value, ct);
        if (found.Count == 0)
        {
            // ITI-83: an unknown domain is 400, an unknown patient in a known domain is 404.
            var domainKnown = (await PatientInputs.FindByIdentifierAsync(store, invocation.Transaction, system, null, ct)).Count > 0;
            throw domainKnown
                ? FhirException.NotFound($"sourceIdentifier Patient Identifier not found: no patient has {system}|{value}.")
                : new FhirException(400, Outcomes.Error(OperationOutcome.IssueType.CodeInvalid, $"sourceIdentifier Assigning Authority not found: no patient has an identifier in {system}.", "Parameters.parameter[sourceIdentifier]"));
        }

        foreach (var target in targetSystems)
        {
            if ((await PatientInputs.FindByIdentifierAsync(store, invocation.Transaction, target, null, ct)).Count == 0)
            {
                throw new FhirException(403, Outcomes.Error(OperationOutcome.IssueType.CodeInvalid, $"targetSystem not found: no patient has an identifier in {target}.", "Parameters.parameter[targetSystem]"));
            }
        }

        // Every record of every person the identifier names: the source records of their masters.
        var records = new SortedSet<string>(found.Select(p => p.Id!), StringComparer.Ordinal);
        var masters = new SortedSet<string>(StringComparer.Ordinal);
        await using (var connection = await store.OpenConnectionAsync(ct))
        {
            foreach (var patient in found)
            {
                var rows = await connection.QueryAsync("SELECT master_id FROM mpi_source WHERE patient_id = @id AND deleted = 0 AND master_id IS NOT NULL", r => r.GetString(0), ct, ("@id", patient.Id));
                foreach (var master in rows)
                {
                    masters.Add(master);
                    foreach (var member in await connection.QueryAsync("SELECT patient_id FROM mpi_source WHERE master_id = @m AND deleted = 0", r => r.GetString(0), ct, ("@m", master)))
                    {
                        records.Add(member);
                    }
                }
            }
        }

        var output = new Parameters();
        var seen = new HashSet<string>(StringComparer.Ordinal) { $"{system}|{value}" };
        foreach (var id in records)
        {
            var read = await store.ExecuteAsync(new FhirRequest { Method = "GET", Path = $"Patient/{id}" }, ct);
            if (read.Status != 200 || RecordStore.FhirStore.Materialise(read) is not Patient patient)
            {
                continue;
            }

            var wanted = patient.Identifier.Where(i => i.System is not null && (targetSystems.Count == 0 || targetSystems.Contains(i.System))).ToList();
            foreach (var identifier in wanted.Where(i => seen.Add($"{i.System}|{i.Value}")))
            {
                output.Parameter.Add(new Parameters.ParameterComponent { Name = "targetIdentifier", Value = new Identifier(identifier.System, identifier.Value) { Use = identifier.Use, Type = identifier.Type } });
            }

            if (targetSystems.Count == 0 || wanted.Count > 0)
            {
                output.Parameter.Add(new Parameters.ParameterComponent { Name = "targetId", Value = new ResourceReference($"Patient/{id}") });
            }
        }

        if (targetSystems.Count == 0)
        {
            foreach (var master in masters)
            {
                output.Parameter.Add(new Parameters.ParameterComponent { Name = "targetId", Value = new ResourceReference($"Patient/{master}") });
            }
        }

        return new FhirResponse { Status = 200, Resource = output };
    }
}
