using Hl7.Fhir.Model;
using Tessera.Demo.Fhir;
using Tessera.Demo.People;
using Tessera.Demo.Region;

namespace Tessera.Demo.Clinical;

/// <summary>A laboratory test: LOINC code, UCUM unit, adult reference range and the spread of values in health.</summary>
internal sealed record LabTest(string Loinc, string Display, string Unit, string Ucum, decimal? Low, decimal? High, double Mean, double Sd, int Decimals);

/// <summary>A laboratory panel reported as one DiagnosticReport (LOINC panel code) with its tests.</summary>
internal sealed record LabPanel(string Loinc, string Display, LabTest[] Tests);

internal static class Laboratory
{
    public static readonly LabTest Haemoglobin = new("718-7", "Hemoglobin [Mass/volume] in Blood", "g/L", "g/L", 120, 170, 140, 12, 0);
    public static readonly LabTest WhiteCells = new("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*9/L", "10*9/L", 4.0m, 11.0m, 7.0, 1.8, 1);
    public static readonly LabTest Platelets = new("777-3", "Platelets [#/volume] in Blood by Automated count", "10*9/L", "10*9/L", 150, 400, 260, 55, 0);
    public static readonly LabTest Sodium = new("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 133, 146, 139, 2.5, 0);
    public static readonly LabTest Potassium = new("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 3.5m, 5.3m, 4.3, 0.4, 1);
    public static readonly LabTest Urea = new("22664-7", "Urea [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 2.5m, 7.8m, 5.2, 1.4, 1);
    public static readonly LabTest Creatinine = new("14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L", "umol/L", 59, 104, 78, 14, 0);
    public static readonly LabTest Egfr = new("62238-1", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by Creatinine-based formula (CKD-EPI)", "mL/min/1.73m2", "mL/min/{1.73_m2}", 60, null, 90, 12, 0);
    public static readonly LabTest Cholesterol = new("14647-2", "Cholesterol [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", null, 5.0m, 5.1, 1.0, 1);
    public static readonly LabTest Hdl = new("14646-4", "Cholesterol in HDL [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 1.0m, null, 1.4, 0.35, 1);
    public static readonly LabTest Ldl = new("22748-8", "Cholesterol in LDL [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", null, 3.0m, 3.0, 0.9, 1);
    public static readonly LabTest Triglyceride = new("14927-8", "Triglyceride [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", null, 1.7m, 1.5, 0.7, 1);
    public static readonly LabTest Alt = new("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L", null, 40, 24, 10, 0);
    public static readonly LabTest Albumin = new("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/L", "g/L", 35, 50, 42, 3.5, 0);
    public static readonly LabTest Bilirubin = new("14631-6", "Bilirubin.total [Moles/volume] in Serum or Plasma", "umol/L", "umol/L", null, 21, 10, 5, 0);
    public static readonly LabTest HbA1c = new("59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", "mmol/mol", "mmol/mol", 20, 41, 36, 4, 0);
    public static readonly LabTest Tsh = new("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "mU/L", "m[IU]/L", 0.27m, 4.2m, 1.8, 0.8, 2);
    public static readonly LabTest Crp = new("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", "mg/L", null, 5, 3, 2, 0);

    public static readonly LabPanel FullBloodCount = new("58410-2", "CBC panel - Blood by Automated count", [Haemoglobin, WhiteCells, Platelets]);
    public static readonly LabPanel RenalFunction = new("24362-6", "Renal function 2000 panel - Serum or Plasma", [Sodium, Potassium, Urea, Creatinine, Egfr]);
    public static readonly LabPanel Lipids = new("24331-1", "Lipid 1996 panel - Serum or Plasma", [Cholesterol, Hdl, Ldl, Triglyceride]);
    public static readonly LabPanel LiverFunction = new("24325-3", "Hepatic function 2000 panel - Serum or Plasma", [Alt, Albumin, Bilirubin]);
    public static readonly LabPanel Diabetes = new("59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", [HbA1c]);
    public static readonly LabPanel Thyroid = new("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", [Tsh]);
    public static readonly LabPanel Inflammation = new("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", [Crp]);
}

/// <summary>Vital signs and laboratory results, with values that follow the person's age and conditions.</summary>
internal sealed partial class HistoryBuilder
{
    private Observation NewVitalSign(string profile, SourcePatient subject, string encounterId, DateTimeOffset when, Staff performer, string loinc, string loincDisplay, string snomed, string snomedDisplay) =>
        new()
        {
            Meta = FhirBuild.Profile(profile),
            Status = ObservationStatus.Final,
            Category = [FhirBuild.Concept(Systems.ObservationCategory, "vital-signs", "Vital Signs")],
            Code = new CodeableConcept
            {
                Coding = [new Coding(Systems.Loinc, loinc, loincDisplay), new Coding(Systems.Snomed, snomed, snomedDisplay)],
                Text = snomedDisplay,
            },
            Subject = subject.Reference(Name),
            Encounter = FhirBuild.Urn(encounterId),
            Effective = new FhirDateTime(when),
            Performer = [Who(performer)],
        };

    private void AddBloodPressure(SourcePatient subject, string encounterId, DateTimeOffset when, Staff performer)
    {
        var hypertensive = person.Has("hypertension");
        var systolic = Math.Round(Math.Clamp(rng.Normal(112 + 0.45 * Math.Max(0, person.Age - 16) + (hypertensive ? 12 : 0), 12), 85, 210));
        var diastolic = Math.Round(Math.Clamp(rng.Normal(70 + 0.12 * Math.Max(0, person.Age - 16) + (hypertensive ? 7 : 0), 8), 45, Math.Min(125, systolic - 20)));
        var bp = NewVitalSign(UkCore.BloodPressure, subject, encounterId, when, performer, "85354-9", "Blood pressure panel with all children optional", "75367002", "Blood pressure");
        bp.Component =
        [
            new Observation.ComponentComponent
            {
                Code = new CodeableConcept { Coding = [new Coding(Systems.Loinc, "8480-6", "Systolic blood pressure"), new Coding(Systems.Snomed, "72313002", "Systolic arterial pressure")] },
                Value = FhirBuild.Ucum((decimal)systolic, "millimeter of mercury", "mm[Hg]"),
            },
            new Observation.ComponentComponent
            {
                Code = new CodeableConcept { Coding = [new Coding(Systems.Loinc, "8462-4", "Diastolic blood pressure"), new Coding(Systems.Snomed, "1091811000000102", "Diastolic arterial pressure")] },
                Value = FhirBuild.Ucum((decimal)diastolic, "millimeter of mercury", "mm[Hg]"),
            },
        ];
        builder.Add(bp);
    }

    private void AddHeartRate(SourcePatient subject, string encounterId, DateTimeOffset when, Staff performer, double extra = 0)
    {
        var mean = (person.Age < 12 ? 95 : person.Has("af") ? 86 : 73) + extra;
        var hr = NewVitalSign(UkCore.HeartRate, subject, encounterId, when, performer, "8867-4", "Heart rate", "364075005", "Heart rate");
        hr.Value = FhirBuild.Ucum((decimal)Math.Round(Math.Clamp(rng.Normal(mean, 11), 40, 170)), "per minute", "/min");
        builder.Add(hr);
    }

    /// <summary>The observations of an acutely unwell person: pulse, blood pressure, breathing, temperature, oxygen and, in urgent care, the NEWS2 score.</summary>
    private void AddAcuteObservations(SourcePatient subject, string encounterId, DateTimeOffset when, Staff performer, bool unwell, bool news2)
    {
        AddHeartRate(subject, encounterId, when, performer, unwell ? 12 : 0);
        if (person.Age >= 16)
        {
            AddBloodPressure(subject, encounterId, when, performer);
        }

        var respiration = NewVitalSign(UkCore.RespirationRate, subject, encounterId, when, performer, "9279-1", "Respiratory rate", "86290005", "Respiratory rate");
        var rate = Math.Clamp(rng.Normal((person.Age < 12 ? 24 : 16) + (unwell ? 4 : 0), 2.5), 8, 45);
        respiration.Value = FhirBuild.Ucum((decimal)Math.Round(rate), "breaths per minute", "/min");
        builder.Add(respiration);

        var temperature = NewVitalSign(UkCore.BodyTemperature, subject, encounterId, when, performer, "8310-5", "Body temperature", "276885007", "Core body temperature");
        var celsius = Math.Clamp(rng.Normal(unwell ? 37.9 : 36.8, unwell ? 0.8 : 0.3), 34.5, 41);
        temperature.Value = FhirBuild.Ucum((decimal)Math.Round(celsius, 1), "degree Celsius", "Cel");
        builder.Add(temperature);

        var saturation = NewVitalSign(UkCore.OxygenSaturation, subject, encounterId, when, performer, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "103228002", "Hemoglobin saturation with oxygen");
        saturation.Code.Coding.Insert(1, new Coding(Systems.Loinc, "2708-6", "Oxygen saturation in Arterial blood"));
        var spo2 = Math.Clamp(rng.Normal(person.Has("copd") ? 92 : unwell ? 95 : 97.5, 1.5), 80, 100);
        saturation.Value = FhirBuild.Ucum((decimal)Math.Round(spo2), "percent", "%");
        builder.Add(saturation);

        if (news2)
        {
            var score = (rate >= 25 ? 3 : rate >= 21 ? 2 : rate <= 8 ? 3 : rate <= 11 ? 1 : 0)
                + (spo2 <= 91 ? 3 : spo2 <= 93 ? 2 : spo2 <= 95 ? 1 : 0)
                + (celsius <= 35 ? 3 : celsius >= 39.1 ? 2 : celsius >= 38.1 || celsius <= 36 ? 1 : 0)
                + (unwell && rng.Chance(0.3) ? 1 : 0);
            builder.Add(new Observation
            {
                Meta = FhirBuild.Profile(UkCore.EarlyWarningScore),
                Status = ObservationStatus.Final,
                Category = [FhirBuild.Concept(Systems.ObservationCategory, "survey", "Survey")],
                Code = FhirBuild.Snomed("1104051000000101", "Royal College of Physicians NEWS2 (National Early Warning Score 2) total score"),
                Subject = subject.Reference(Name),
                Encounter = FhirBuild.Urn(encounterId),
                Effective = new FhirDateTime(when),
                Performer = [Who(performer)],
                Value = new Integer(score),
            });
        }
    }

    private void AddWeightAndBmi(SourcePatient subject, string encounterId, DateTimeOffset when, Staff performer)
    {
        var bmi = Math.Round(_bmi + rng.Normal(0, 0.6), 1);
        var heightM = (double)_heightCm / 100;
        var weight = Math.Round(bmi * heightM * heightM, 1);

        var w = NewVitalSign(UkCore.BodyWeight, subject, encounterId, when, performer, "29463-7", "Body weight", "27113001", "Body weight");
        w.Value = FhirBuild.Ucum((decimal)weight, "kilogram", "kg");
        builder.Add(w);

        var h = NewVitalSign(UkCore.BodyHeight, subject, encounterId, when, performer, "8302-2", "Body height", "50373000", "Body height measure");
        h.Value = FhirBuild.Ucum(_heightCm, "centimeter", "cm");
        builder.Add(h);

        var b = NewVitalSign(UkCore.Bmi, subject, encounterId, when, performer, "39156-5", "Body mass index (BMI) [Ratio]", "60621009", "Body mass index");
        b.Value = FhirBuild.Ucum((decimal)Math.Round(weight / (heightM * heightM), 1), "kilogram / (meter ^ 2)", "kg/m2");
        builder.Add(b);
    }

    /// <summary>
    /// A laboratory panel: one Observation per test (with its reference range and H/L/N interpretation) and a
    /// DiagnosticReport that issues them two days after the sample, from the acute trust's pathology laboratory.
    /// </summary>
    private void AddLabPanel(SourcePatient subject, string encounterId, DateTimeOffset sampled, Staff requester, LabPanel panel, bool unwell = false)
    {
        var issued = sampled.AddHours(rng.Between(4, 48));
        var results = new List<ResourceReference>(panel.Tests.Length);
        foreach (var test in panel.Tests)
        {
            var value = Math.Round((decimal)Math.Max(0, LabValue(test, unwell)), test.Decimals);
            var observation = new Observation
            {
                Meta = FhirBuild.Profile(UkCore.ObservationLab),
                Status = ObservationStatus.Final,
                Category = [FhirBuild.Concept(Systems.ObservationCategory, "laboratory", "Laboratory")],
                Code = FhirBuild.Concept(Systems.Loinc, test.Loinc, test.Display),
                Subject = subject.Reference(Name),
                Encounter = FhirBuild.Urn(encounterId),
                Effective = new FhirDateTime(sampled),
                Issued = issued,
                Performer = [FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, "Tessvale Pathology")],
                Value = FhirBuild.Ucum(value, test.Unit, test.Ucum),
                Interpretation = [Interpretation(test, value)],
                ReferenceRange =
                [
                    new Observation.ReferenceRangeComponent
                    {
                        Low = test.Low is { } low ? FhirBuild.Ucum(low, test.Unit, test.Ucum) : null,
                        High = test.High is { } high ? FhirBuild.Ucum(high, test.Unit, test.Ucum) : null,
                    },
                ],
            };
            results.Add(FhirBuild.Urn(builder.Add(observation)));
        }

        builder.Add(new DiagnosticReport
        {
            Meta = FhirBuild.Profile(UkCore.DiagnosticReportLab),
            Status = DiagnosticReport.DiagnosticReportStatus.Final,
            Category = [FhirBuild.Concept(Systems.DiagnosticServiceSection, panel == Laboratory.FullBloodCount ? "HM" : "CH", panel == Laboratory.FullBloodCount ? "Hematology" : "Chemistry")],
            Code = FhirBuild.Concept(Systems.Loinc, panel.Loinc, panel.Display),
            Subject = subject.Reference(Name),
            Encounter = FhirBuild.Urn(encounterId),
            Effective = new FhirDateTime(sampled),
            Issued = issued,
            Performer = [FhirBuild.Ref("Organization", RegionDirectory.AcuteTrustId, "Tessvale Pathology")],
            ResultsInterpreter = [Who(requester)],
            Result = results,
        });
    }

    private double LabValue(LabTest test, bool unwell)
    {
        var ckd = person.Has("ckd");
        var (mean, sd) = test switch
        {
            _ when test == Laboratory.Egfr => ckd ? (45.0, 9.0) : (Math.Min(118, 98 - 0.6 * Math.Max(0, person.Age - 30)), 10.0),
            _ when test == Laboratory.Creatinine => ckd ? (135.0, 25.0) : (person.Male ? 85.0 : 68.0, 12.0),
            _ when test == Laboratory.Urea => ckd ? (9.5, 2.0) : (test.Mean, test.Sd),
            _ when test == Laboratory.Haemoglobin => ((person.Male ? 148.0 : 133.0) - (ckd ? 15 : 0) - (person.Age >= 80 ? 6 : 0), 11.0),
            _ when test == Laboratory.HbA1c => person.Has("diabetes") ? (58.0, 11.0) : (test.Mean + person.Age / 30.0, test.Sd),
            _ when test == Laboratory.Tsh => person.Has("hypothyroidism") ? (3.5, 2.5) : (test.Mean, test.Sd),
            _ when test == Laboratory.Cholesterol || test == Laboratory.Ldl => person.Conditions.Exists(c => c.Definition.Medicines.Contains(Catalogue.Atorvastatin)) ? (test.Mean * 0.75, test.Sd) : (test.Mean, test.Sd),
            _ when test == Laboratory.Crp || test == Laboratory.WhiteCells => unwell ? (test.Mean * 6, test.Mean * 4) : (test.Mean, test.Sd),
            _ => (test.Mean, test.Sd),
        };
        return rng.Normal(mean, sd);
    }

    private static CodeableConcept Interpretation(LabTest test, decimal value) =>
        test.Low is { } low && value < low ? FhirBuild.Concept(Systems.ObservationInterpretation, "L", "Low")
        : test.High is { } high && value > high ? FhirBuild.Concept(Systems.ObservationInterpretation, "H", "High")
        : FhirBuild.Concept(Systems.ObservationInterpretation, "N", "Normal");
}
