namespace Tessera.Demo.Clinical;

/// <summary>A dm+d virtual medicinal product with the dose instruction a prescriber would usually give.</summary>
internal sealed record Medicine(string Code, string Display, string Dosage);

/// <summary>
/// A long-term condition with its SNOMED CT code, its prevalence by age (piecewise linear between the
/// points given), the medicines that usually treat it and the hospital specialty that sees it.
/// </summary>
internal sealed record ConditionDefinition(
    string Key,
    string Code,
    string Display,
    (int Age, double Prevalence)[] Curve,
    Medicine[] Medicines,
    string Specialty,
    double FemaleFactor = 1.0)
{
    public double PrevalenceAt(int age, bool male)
    {
        var p = 0.0;
        if (age <= Curve[0].Age)
        {
            p = Curve[0].Prevalence;
        }
        else if (age >= Curve[^1].Age)
        {
            p = Curve[^1].Prevalence;
        }
        else
        {
            for (var i = 1; i < Curve.Length; i++)
            {
                if (age <= Curve[i].Age)
                {
                    var (a0, p0) = Curve[i - 1];
                    var (a1, p1) = Curve[i];
                    p = p0 + (p1 - p0) * (age - a0) / (a1 - a0);
                    break;
                }
            }
        }

        return male ? p : Math.Min(1, p * FemaleFactor);
    }
}

/// <summary>
/// The clinical vocabulary of the demo region: SNOMED CT for problems, allergies and encounter types, dm+d
/// for medicines, LOINC with UCUM units for observations. Prevalences follow the shape of England's QOF
/// registers by age; the dm+d codes are real-looking VMP identifiers for illustration, not a formulary.
/// </summary>
internal static class Catalogue
{
    public static readonly Medicine Amlodipine = new("319283006", "Amlodipine 5mg tablets", "One tablet once a day");
    public static readonly Medicine Ramipril = new("318900003", "Ramipril 5mg capsules", "One capsule once a day");
    public static readonly Medicine Metformin = new("325278007", "Metformin 500mg tablets", "One tablet twice a day with meals");
    public static readonly Medicine Salbutamol = new("320176004", "Salbutamol 100micrograms/dose inhaler CFC free", "Two puffs when required for breathlessness");
    public static readonly Medicine Beclometasone = new("320147007", "Beclometasone 100micrograms/dose inhaler CFC free", "Two puffs twice a day");
    public static readonly Medicine Tiotropium = new("407884006", "Tiotropium bromide 18microgram inhalation powder capsules", "Inhale the contents of one capsule once a day");
    public static readonly Medicine Apixaban = new("703907003", "Apixaban 5mg tablets", "One tablet twice a day");
    public static readonly Medicine Bisoprolol = new("318590006", "Bisoprolol 2.5mg tablets", "One tablet once a day");
    public static readonly Medicine Furosemide = new("317972000", "Furosemide 40mg tablets", "One tablet in the morning");
    public static readonly Medicine Donepezil = new("400877002", "Donepezil 5mg tablets", "One tablet at night");
    public static readonly Medicine Sertraline = new("321949006", "Sertraline 50mg tablets", "One tablet once a day");
    public static readonly Medicine Levothyroxine = new("319733000", "Levothyroxine sodium 50microgram tablets", "One tablet in the morning before breakfast");
    public static readonly Medicine Atorvastatin = new("320000009", "Atorvastatin 20mg tablets", "One tablet at night");
    public static readonly Medicine Aspirin = new("319770009", "Aspirin 75mg dispersible tablets", "One tablet once a day");
    public static readonly Medicine Clopidogrel = new("317898002", "Clopidogrel 75mg tablets", "One tablet once a day");
    public static readonly Medicine Paracetamol = new("322236009", "Paracetamol 500mg tablets", "Two tablets up to four times a day when required");
    public static readonly Medicine CoCodamol = new("322257002", "Co-codamol 30mg/500mg tablets", "One to two tablets up to four times a day when required");
    public static readonly Medicine Amoxicillin = new("39732411000001106", "Amoxicillin 500mg capsules", "One capsule three times a day for 5 days");

    public static readonly ConditionDefinition[] Conditions =
    [
        new("hypertension", "38341003", "Hypertensive disorder, systemic arterial", [(18, 0.01), (40, 0.06), (60, 0.30), (80, 0.58)], [Amlodipine, Ramipril], "cardiology"),
        new("diabetes", "44054006", "Diabetes mellitus type 2", [(20, 0.002), (40, 0.03), (60, 0.11), (80, 0.16)], [Metformin, Atorvastatin], "diabetes"),
        new("asthma", "195967001", "Asthma", [(3, 0.03), (10, 0.09), (40, 0.07), (80, 0.07)], [Salbutamol, Beclometasone], "respiratory"),
        new("copd", "13645005", "Chronic obstructive lung disease", [(35, 0.0), (50, 0.015), (70, 0.05), (85, 0.07)], [Salbutamol, Tiotropium], "respiratory"),
        new("af", "49436004", "Atrial fibrillation", [(40, 0.0), (60, 0.02), (75, 0.07), (90, 0.15)], [Apixaban, Bisoprolol], "cardiology"),
        new("heart-failure", "84114007", "Heart failure", [(50, 0.0), (70, 0.02), (85, 0.07), (95, 0.10)], [Furosemide, Bisoprolol, Ramipril], "cardiology"),
        new("chd", "53741008", "Coronary arteriosclerosis", [(40, 0.0), (60, 0.04), (80, 0.12)], [Atorvastatin, Aspirin], "cardiology", 0.6),
        new("stroke", "230690007", "Cerebrovascular accident", [(45, 0.0), (65, 0.02), (85, 0.06)], [Clopidogrel, Atorvastatin], "elderly"),
        new("dementia", "52448006", "Dementia", [(64, 0.0), (75, 0.03), (85, 0.12), (95, 0.30)], [Donepezil], "elderly", 1.2),
        new("depression", "35489007", "Depressive disorder", [(15, 0.02), (25, 0.09), (60, 0.11), (90, 0.08)], [Sertraline], "medicine", 1.5),
        new("ckd", "709044004", "Chronic kidney disease", [(40, 0.0), (60, 0.04), (75, 0.13), (90, 0.25)], [], "renal"),
        new("hypothyroidism", "40930008", "Hypothyroidism", [(20, 0.005), (50, 0.03), (80, 0.06)], [Levothyroxine], "diabetes", 3.0),
        new("osteoarthritis", "396275006", "Osteoarthritis", [(40, 0.0), (60, 0.10), (80, 0.25)], [Paracetamol, CoCodamol], "orthopaedics", 1.3),
    ];

    /// <summary>Allergies by SNOMED CT finding code with their share of the population.</summary>
    public static readonly (string Code, string Display, string Category, double Share)[] Allergies =
    [
        ("91936005", "Allergy to penicillin", "medication", 0.06),
        ("91935009", "Allergy to peanuts", "food", 0.012),
        ("300916003", "Latex allergy", "environment", 0.005),
        ("293586001", "Allergy to aspirin", "medication", 0.006),
    ];
}
