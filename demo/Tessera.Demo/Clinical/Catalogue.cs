namespace Tessera.Demo.Clinical;

/// <summary>A dm+d medicinal product with the dose instruction a prescriber would usually give.</summary>
internal sealed record Medicine(string Code, string Display, string Dosage)
{
    /// <summary>The SNOMED CT dose form, where the name says it plainly.</summary>
    public (string Code, string Display)? Form =>
        Display.Contains(" tablets", StringComparison.Ordinal) ? ("385055001", "Tablet")
        : Display.Contains(" capsules", StringComparison.Ordinal) ? ("385049006", "Capsule")
        : null;
}

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
    double FemaleFactor = 1.0,
    Sensitivity Sensitivity = Sensitivity.None)
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
    public static readonly Medicine Clarithromycin = new("41946511000001109", "Clarithromycin 500mg tablets", "One tablet twice a day for 5 days");
    public static readonly Medicine Doxycycline = new("41948311000001104", "Doxycycline 100mg capsules", "One capsule twice a day for 7 days");
    public static readonly Medicine Ciprofloxacin = new("39687811000001107", "Ciprofloxacin 500mg tablets", "One tablet twice a day for 7 days");

    /// <summary>Seasonal influenza vaccine (dm+d AMP, as in the UK Core Immunization example).</summary>
    public static readonly Medicine FluVaccine = new("11278411000001109", "Influenza vaccine (split virion, inactivated) suspension for injection 0.5ml pre-filled syringes (Pfizer Ltd)", "0.5ml by intramuscular injection");

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
        new("depression", "35489007", "Depressive disorder", [(15, 0.02), (25, 0.09), (60, 0.11), (90, 0.08)], [Sertraline], "medicine", 1.5, Sensitivity.MentalHealth),
        new("anxiety", "197480006", "Anxiety disorder", [(12, 0.01), (20, 0.05), (50, 0.06), (85, 0.03)], [], "medicine", 1.6, Sensitivity.MentalHealth),
        new("schizophrenia", "58214004", "Schizophrenia", [(16, 0.0), (25, 0.006), (60, 0.008), (90, 0.005)], [], "medicine", 0.7, Sensitivity.MentalHealth),
        new("bipolar", "13746004", "Bipolar disorder", [(16, 0.0), (25, 0.004), (60, 0.006), (90, 0.004)], [], "medicine", 1.0, Sensitivity.MentalHealth),
        new("ckd", "709044004", "Chronic kidney disease", [(40, 0.0), (60, 0.04), (75, 0.13), (90, 0.25)], [], "renal"),
        new("hypothyroidism", "40930008", "Hypothyroidism", [(20, 0.005), (50, 0.03), (80, 0.06)], [Levothyroxine], "diabetes", 3.0),
        new("osteoarthritis", "396275006", "Osteoarthritis", [(40, 0.0), (60, 0.10), (80, 0.25)], [Paracetamol, CoCodamol], "orthopaedics", 1.3),
    ];

    /// <summary>Long-term conditions that bring yearly seasonal flu vaccination (the "at risk" groups).</summary>
    public static readonly HashSet<string> FluAtRisk = ["asthma", "copd", "diabetes", "chd", "heart-failure", "ckd", "stroke"];

    /// <summary>Every medicine the region prescribes, as the shared Medication resources of the hospital formulary.</summary>
    public static readonly Medicine[] Formulary =
        Conditions.SelectMany(c => c.Medicines).Concat([Amoxicillin, Clarithromycin, Doxycycline, Ciprofloxacin]).Distinct().ToArray();

    /// <summary>
    /// Self-limiting problems a GP records and later resolves, with the ages they happen at and their relative
    /// frequency among consultations for acute illness.
    /// </summary>
    public static readonly EpisodicProblem[] EpisodicProblems =
    [
        new("54150009", "Upper respiratory infection", 0, 120, 3.0),
        new("65363002", "Otitis media", 0, 12, 2.0),
        new("90176007", "Tonsillitis", 3, 40, 1.0),
        new("68566005", "Urinary tract infectious disease", 16, 120, 1.5, Antibiotic: true),
        new("279039007", "Low back pain", 18, 120, 2.0),
        new("43116000", "Eczema", 0, 120, 1.0),
        new("36971009", "Sinusitis", 16, 120, 1.0),
        new("10509002", "Acute bronchitis", 0, 120, 1.0, Antibiotic: true),
        new("44465007", "Sprain of ankle", 10, 70, 0.8),
        new("37796009", "Migraine", 12, 70, 0.8),
        new("235595009", "Gastroesophageal reflux disease", 30, 120, 1.0),
        new("61582004", "Allergic rhinitis", 5, 60, 1.0),
        new("128045006", "Cellulitis", 30, 120, 0.5, Antibiotic: true),
        new("233604007", "Pneumonia", 60, 120, 0.4, Antibiotic: true),
        new("271737000", "Anemia", 16, 120, 0.5),
    ];

    /// <summary>Sexually transmitted infections diagnosed at the sexual health clinic.</summary>
    public static readonly EpisodicProblem[] SexuallyTransmittedInfections =
    [
        new("105629000", "Chlamydial infection", 15, 60, 3.0, Antibiotic: true),
        new("15628003", "Gonorrhea", 15, 60, 1.0, Antibiotic: true),
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

/// <summary>A self-limiting problem, recorded then resolved.</summary>
internal sealed record EpisodicProblem(string Code, string Display, int MinAge, int MaxAge, double Weight, bool Antibiotic = false);

/// <summary>
/// Categories of sensitive information, labelled on resources in meta.security with HL7 v3 ActCode
/// information-sensitivity codes (and v3 Confidentiality R) so that an access policy can hold them back.
/// </summary>
internal enum Sensitivity
{
    None,

    /// <summary>ActCode PSY, psychiatry disorder information sensitivity.</summary>
    MentalHealth,

    /// <summary>ActCode SEX, sexuality and reproductive health information sensitivity.</summary>
    SexualHealth,

    /// <summary>ActCode SEX and STD, sexually transmitted disease information sensitivity.</summary>
    SexuallyTransmittedInfection,

    /// <summary>ActCode SDV, sexual assault, abuse, or domestic violence information sensitivity.</summary>
    Safeguarding,
}
