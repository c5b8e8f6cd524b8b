using System.Text;
using Hl7.Fhir.Model;
using Tessera.Integration.Hl7;

namespace Tessera.Integration.Mapping;

/// <summary>MDM^T02 (original document with content) to a DocumentReference carrying the document itself.</summary>
internal static class DocumentMapping
{
    public static void Map(MappingContext context, MappedMessage mapped)
    {
        var txa = context.Require("TXA", "a TXA segment (the document header)");
        var patient = PatientMapping.Map(context, mapped);
        var number = V2.Value(txa, 12) ?? throw context.Fail(txa, 12, "the unique document number is required");
        var type = V2.Value(txa, 2) ?? throw context.Fail(txa, 2, "the document type is required");
        var document = new DocumentReference
        {
            Meta = MessageMapper.Profile("DocumentReference"),
            MasterIdentifier = new Identifier(context.Source.DocumentSystem, number),
            Identifier = [new Identifier(context.Source.DocumentSystem, number)],
            Status = DocumentReferenceStatus.Current,
            DocStatus = V2.Value(txa, 17) switch
            {
                null or "AU" or "LA" => CompositionStatus.Final,
                "DO" or "IP" or "IN" or "PA" or "DI" => CompositionStatus.Preliminary,
                var other => throw context.Fail(txa, 17, $"document completion status '{other}' is not in HL7 table 0271", Hl7ErrorCode.TableValueNotFound),
            },
            Type = new CodeableConcept("http://terminology.hl7.org/CodeSystem/v2-0270", type, V2.Value(txa, 2, 1, 2), null),
            Subject = new ResourceReference(patient.Key),
            Date = context.Instant(txa, 4) ?? context.Instant(txa, 6),
            Custodian = context.Source.OrganizationReference(),
            Description = V2.Value(txa, 16),
        };
        foreach (var field in new[] { 5, 9, 10 })
        {
            if (V2.Person(txa, field) is { } author)
            {
                document.Author.Add(author);
            }
        }

        if (V2.Value(context.Message.GetSegment("PV1"), 19) is { } visit)
        {
            document.Context = new DocumentReference.ContextComponent
            {
                Encounter = [new ResourceReference { Type = "Encounter", Identifier = new Identifier(context.Source.EncounterSystem, visit) }],
            };
        }

        document.Content.Add(new DocumentReference.ContentComponent { Attachment = Content(context, txa, number) });
        mapped.Add(document, new Identifier(context.Source.DocumentSystem, number));
    }

    /// <summary>The document from the OBX segments: one ED (base64 or plain) or lines of TX/FT/ST text.</summary>
    private static Attachment Content(MappingContext context, Hl7Segment txa, string number)
    {
        var lines = new List<string>();
        foreach (var obx in context.Message.GetSegments("OBX"))
        {
            if (V2.Value(obx, 2) is "ED")
            {
                // source application^type of data^data subtype^encoding^data
                var media = (V2.Value(obx, 5, 1, 2) ?? "application").ToLowerInvariant() switch
                {
                    "ap" => "application",
                    "tx" or "text" => "text",
                    "im" or "image" => "image",
                    var m => m,
                };
                var subtype = (V2.Value(obx, 5, 1, 3) ?? "octet-stream").ToLowerInvariant();
                var encoding = V2.Value(obx, 5, 1, 4)?.ToUpperInvariant();
                var data = obx.Get(5, 1, 5) ?? string.Empty;
                byte[] bytes;
                try
                {
                    bytes = encoding switch
                    {
                        "BASE64" => Convert.FromBase64String(data),
                        "A" or null => Encoding.UTF8.GetBytes(data),
                        "HEX" => Convert.FromHexString(data),
                        _ => throw context.Fail(obx, 5, $"encapsulated data encoding '{encoding}' is not supported; use Base64, Hex or A", Hl7ErrorCode.DataTypeError),
                    };
                }
                catch (FormatException)
                {
                    throw context.Fail(obx, 5, $"the encapsulated data is not valid {encoding}", Hl7ErrorCode.DataTypeError);
                }

                if (bytes.Length == 0)
                {
                    throw context.Fail(obx, 5, "the encapsulated document is empty");
                }

                return new Attachment { ContentType = $"{media}/{subtype}", Data = bytes, Title = V2.Value(txa, 16) ?? number, Size = bytes.Length };
            }

            for (var r = 1; r <= Math.Max(1, V2.Repetitions(obx, 5)); r++)
            {
                lines.Add(obx.Get(5, r) ?? string.Empty);
            }
        }

        var text = string.Join("\n", lines).Trim();
        if (text.Length == 0)
        {
            throw new Hl7MappingException("OBX", 5, "MDM^T02 carries the document in OBX-5 (ED, or lines of TX/FT/ST); none was found", Hl7ErrorCode.RequiredFieldMissing);
        }

        var body = Encoding.UTF8.GetBytes(text);
        return new Attachment { ContentType = "text/plain; charset=utf-8", Data = body, Title = V2.Value(txa, 16) ?? number, Size = body.Length };
    }
}
