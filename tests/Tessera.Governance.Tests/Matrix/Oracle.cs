using Tessera.Governance.Tests.Infrastructure;
using Tessera.RecordStore;

namespace Tessera.Governance.Tests.Matrix;

/// <summary>
/// The policy of docs/governance.md written a second time, as plain rules over the generated region, so that the
/// matrix compares the store's SQL-level enforcement against an independent statement of who sees what.
/// </summary>
public static class Oracle
{
    private static readonly HashSet<string> PractitionerRoles = ["gp", "nurse", "social-worker", "admin-staff"];

    /// <summary>Whether the role (and scopes) may address the type at all; otherwise search and read are refused.</summary>
    public static bool TypeAllowed(TestCaller caller, string type)
    {
        var personal = FhirStore.PatientCompartmentTypes.Contains(type);
        return caller.Name switch
        {
            "system-patients" => type == "Patient",
            "admin-staff" => type == "Patient" || !personal,
            "ig-lead" => !personal || type is "Patient" or "Consent" or "Communication" or "Provenance",
            _ => true,
        };
    }

    /// <summary>Whether the caller sees the item's current version, or the given version (history, vread).</summary>
    public static bool Visible(TestCaller caller, Item item, Region region, int? version = null)
    {
        var label = version is { } v ? item.LabelOf(v) : item.Label;
        if (!TypeAllowed(caller, item.Type))
        {
            return false;
        }

        if (caller.Name == "system" || caller.Name == "system-patients")
        {
            return true;
        }

        if (item.Patient is null)
        {
            return !FhirStore.PatientCompartmentTypes.Contains(item.Type);
        }

        var person = region.PersonOf.TryGetValue(item.Patient, out var p) ? p : [item.Patient];
        switch (caller.Role)
        {
            case "citizen":
                return person.Overlaps(region.PersonOf["p-citizen"]);
            case "carer":
                return caller.Name == "carer" && person.Contains("pt-cared") && !Denied(person, item, label, region, null);
            case "ig-lead":
                return item.Type is "Patient" or "Consent" || item.BreakGlassNotice;
        }

        if (!PractitionerRoles.Contains(caller.Role))
        {
            return false;
        }

        var relations = person.Select(k => region.People.TryGetValue(k, out var x) ? x.Relation : Relation.None).ToList();
        var related = relations.Any(r => r is Relation.Registered or Relation.OpenEncounter or Relation.Episode or Relation.Referral or Relation.CareTeam);
        var brokeGlass = caller.Name == "gp" && relations.Contains(Relation.BreakGlass);
        var visible = brokeGlass || (related && !Denied(person, item, label, region, caller.Org));
        return caller.Role switch
        {
            "admin-staff" => visible && item.Type == "Patient",
            "social-worker" => visible && !(item.Lab && !relations.Contains(Relation.CareTeam)),
            _ => visible,
        };
    }

    /// <summary>A consent of the person hides the item from the caller's organisation, unless that organisation recorded it.</summary>
    private static bool Denied(HashSet<string> person, Item item, string? label, Region region, string? org)
    {
        if (org is not null && item.Source is { } source && (source == org || source.StartsWith(org + "#", StringComparison.Ordinal) || source.StartsWith(org + "/", StringComparison.Ordinal)))
        {
            return false;
        }

        foreach (var key in person)
        {
            var consent = region.People.TryGetValue(key, out var x) ? x.Consent : ConsentState.None;
            var denied = consent switch
            {
                ConsentState.OptOut => true,
                ConsentState.DenyOwnOrg => org == Callers.OrgA,
                ConsentState.DenyOtherOrg => org == Callers.OrgB,
                ConsentState.RestrictMentalHealth => label == Region.PsyLabel,
                _ => false,
            };
            if (denied)
            {
                return true;
            }
        }

        return false;
    }
}
