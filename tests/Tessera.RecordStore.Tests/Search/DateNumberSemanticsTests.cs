using Hl7.Fhir.Model;
using Tessera.RecordStore.Tests.Infrastructure;
using static Tessera.RecordStore.Tests.Search.SearchSemantics;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>
/// Date and number search with every prefix (FHIR R4 search.html 3.1.1.4.2, 3.1.1.4.4 and 3.1.1.4.5). A date is
/// a range by its precision, on both sides: with S the search value's range and T the stored value's,
///   eq: T lies within S;                 ne: not eq;
///   gt: T reaches above S (its end is after S's end);   lt: T reaches below S (its start is before S's start);
///   ge: gt or eq;                        le: lt or eq;
///   sa: T starts after S ends;           eb: T ends before S starts;
///   ap: approximately (the server decides; only clear cases are tested).
/// A number has the implicit range of its significant figures: 100 is [99.5, 100.5).
/// </summary>
public sealed class DateNumberSemanticsTests(StoreFixture fixture) : IClassFixture<StoreFixture>
{
    /// <summary>
    /// Stored values around the search day 2020-06-15 (UTC), and what each is against it:
    /// <list type="table">
    /// <item><term>day</term><description>2020-06-15: the same day, within</description></item>
    /// <item><term>second</term><description>2020-06-15T10:30:00Z: within</description></item>
    /// <item><term>zoned</term><description>2020-06-16T01:30:00+02:00, which is 2020-06-15T23:30:00Z: within</description></item>
    /// <item><term>month</term><description>2020-06: starts before and ends after</description></item>
    /// <item><term>before</term><description>2020-06-14: ends before</description></item>
    /// <item><term>after</term><description>2020-06-16T00:00:00Z: starts after</description></item>
    /// <item><term>year</term><description>2021: starts after</description></item>
    /// <item><term>ending</term><description>Period 2020-06-10 to 2020-06-15: starts before, ends on the search day</description></item>
    /// <item><term>open-end</term><description>Period from 2020-06-15T12:00:00Z with no end: starts within, never ends</description></item>
    /// <item><term>open-start</term><description>Period with no start, to 2020-06-01: ends before</description></item>
    /// </list>
    /// </summary>
    private static async Task<string> StoreDates(FhirStore store)
    {
        var tag = NewTag();
        await Effective(store, tag, "day", new FhirDateTime("2020-06-15"));
        await Effective(store, tag, "second", new FhirDateTime("2020-06-15T10:30:00Z"));
        await Effective(store, tag, "zoned", new FhirDateTime("2020-06-16T01:30:00+02:00"));
        await Effective(store, tag, "month", new FhirDateTime("2020-06"));
        await Effective(store, tag, "before", new FhirDateTime("2020-06-14"));
        await Effective(store, tag, "after", new FhirDateTime("2020-06-16T00:00:00Z"));
        await Effective(store, tag, "year", new FhirDateTime("2021"));
        await Effective(store, tag, "ending", new Period { Start = "2020-06-10", End = "2020-06-15" });
        await Effective(store, tag, "open-end", new Period { Start = "2020-06-15T12:00:00Z" });
        await Effective(store, tag, "open-start", new Period { End = "2020-06-01" });
        await Effective(store, tag, "none", null);
        return tag;
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Date_prefixes_compare_ranges_as_the_specification_defines(string backend)
    {
        var store = fixture[backend];
        var tag = await StoreDates(store);

        await Finds(store, tag, "Observation?date=2020-06-15", "day", "second", "zoned");
        await Finds(store, tag, "Observation?date=eq2020-06-15", "day", "second", "zoned");
        await Finds(store, tag, "Observation?date=ne2020-06-15", "month", "before", "after", "year", "ending", "open-end", "open-start");
        await Finds(store, tag, "Observation?date=gt2020-06-15", "month", "after", "year", "open-end");
        await Finds(store, tag, "Observation?date=lt2020-06-15", "month", "before", "ending", "open-start");
        await Finds(store, tag, "Observation?date=sa2020-06-15", "after", "year");
        await Finds(store, tag, "Observation?date=eb2020-06-15", "before", "open-start");

        // ge and le where no stored range overlaps only one end of the search range (there see the test below).
        await Finds(store, tag, "Observation?date=ge2020-06-16", "month", "after", "year", "open-end");
        await Finds(store, tag, "Observation?date=le2020-06-14", "month", "before", "ending", "open-start");

        // ap: the same day and the values within it certainly; values months or years away certainly not.
        var approximately = await Matches(store, tag, "Observation?date=ap2020-06-15");
        Assert.Superset(new HashSet<string> { "day", "second", "zoned" }, approximately.ToHashSet());
        Assert.DoesNotContain("year", approximately);
        Assert.DoesNotContain("open-start", approximately);
        Assert.DoesNotContain("none", approximately);

        // Coarser and finer search values: a year, a month, a second.
        await Finds(store, tag, "Observation?date=2020", "day", "second", "zoned", "month", "before", "after", "ending");
        await Finds(store, tag, "Observation?date=2020-06", "day", "second", "zoned", "month", "before", "after", "ending");
        await Finds(store, tag, "Observation?date=2020-06-15T10:30:00Z", "second");
        // A stored day is wider than a searched second: it is not within it, but it reaches above and below it.
        await Finds(store, tag, "Observation?date=gt2020-06-15T10:30:00Z", "day", "zoned", "month", "after", "year", "ending", "open-end");
        await Finds(store, tag, "Observation?date=lt2020-06-15T10:30:00Z", "day", "month", "before", "ending", "open-start");

        // Time zones: the same instant written in two zones.
        await Finds(store, tag, "Observation?date=2020-06-15T23:30:00Z", "zoned");
        await Finds(store, tag, "Observation?date=2020-06-16T01:30:00%2B02:00", "zoned");
        await Finds(store, tag, "Observation?date=2020-06-15T19:30:00-04:00", "zoned");

        // Open ends reach forever.
        await Finds(store, tag, "Observation?date=gt2100", "open-end");
        await Finds(store, tag, "Observation?date=lt1900", "open-start");
        await Finds(store, tag, "Observation?date=sa2019", "day", "second", "zoned", "month", "before", "after", "year", "ending", "open-end");
        await Finds(store, tag, "Observation?date=eb2100", "day", "second", "zoned", "month", "before", "after", "year", "ending", "open-start");

        // OR within a parameter, AND between repeats, and :missing.
        await Finds(store, tag, "Observation?date=2020-06-14,2021", "before", "year");
        await Finds(store, tag, "Observation?date=ge2020-06-16&date=lt2021", "month", "after", "open-end");
        await Finds(store, tag, "Observation?date:missing=true", "none");
    }

    /// <summary>
    /// ge is gt or eq and le is lt or eq: a stored range that starts before the search range and ends within it is
    /// neither above nor within it (so not ge), and one that starts within it and ends after is not le.
    /// </summary>
    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Date_ge_and_le_are_gt_or_eq_and_lt_or_eq(string backend)
    {
        var store = fixture[backend];
        var tag = await StoreDates(store);

        await Finds(store, tag, "Observation?date=ge2020-06-15", "day", "second", "zoned", "month", "after", "year", "open-end");
        await Finds(store, tag, "Observation?date=le2020-06-15", "day", "second", "zoned", "month", "before", "ending", "open-start");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Birthdate_is_a_date_searched_by_its_precision(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        await Put(store, tag, "y1980", new Patient { BirthDate = "1980" });
        await Put(store, tag, "m1980", new Patient { BirthDate = "1980-03" });
        await Put(store, tag, "d1980", new Patient { BirthDate = "1980-03-15" });
        await Put(store, tag, "d1981", new Patient { BirthDate = "1981-01-01" });
        await Put(store, tag, "unknown", new Patient { Gender = AdministrativeGender.Unknown });

        await Finds(store, tag, "Patient?birthdate=1980", "y1980", "m1980", "d1980");
        await Finds(store, tag, "Patient?birthdate=1980-03", "m1980", "d1980");
        await Finds(store, tag, "Patient?birthdate=1980-03-15", "d1980");
        // The whole year 1980 reaches past March, and its start is before it.
        await Finds(store, tag, "Patient?birthdate=gt1980-03", "y1980", "d1981");
        await Finds(store, tag, "Patient?birthdate=lt1980-03", "y1980");
        await Finds(store, tag, "Patient?birthdate=sa1980", "d1981");
        await Finds(store, tag, "Patient?birthdate=eb1981", "y1980", "m1980", "d1980");
        await Finds(store, tag, "Patient?birthdate=ne1980", "d1981");
        await Finds(store, tag, "Patient?birthdate:missing=true", "unknown");
    }

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Number_prefixes_compare_with_the_implicit_precision_of_the_search_value(string backend)
    {
        var (store, tag) = (fixture[backend], NewTag());
        await Risk(store, tag, "v100", 100m);
        await Risk(store, tag, "v99.5", 99.5m);
        await Risk(store, tag, "v100.4", 100.4m);
        await Risk(store, tag, "v100.5", 100.5m);
        await Risk(store, tag, "v20", 20m);
        await Risk(store, tag, "v0.5", 0.5m);
        await Risk(store, tag, "none", null);

        // 100 has three significant figures: [99.5, 100.5). 100.0 has four: [99.95, 100.05).
        await Finds(store, tag, "RiskAssessment?probability=100", "v100", "v99.5", "v100.4");
        await Finds(store, tag, "RiskAssessment?probability=eq100", "v100", "v99.5", "v100.4");
        await Finds(store, tag, "RiskAssessment?probability=100.0", "v100");
        await Finds(store, tag, "RiskAssessment?probability=100.5", "v100.5");
        await Finds(store, tag, "RiskAssessment?probability=ne100", "v100.5", "v20", "v0.5");
        await Finds(store, tag, "RiskAssessment?probability=gt100", "v100.4", "v100.5");
        await Finds(store, tag, "RiskAssessment?probability=ge100", "v100", "v100.4", "v100.5");
        await Finds(store, tag, "RiskAssessment?probability=lt100", "v99.5", "v20", "v0.5");
        await Finds(store, tag, "RiskAssessment?probability=le100", "v100", "v99.5", "v20", "v0.5");
        await Finds(store, tag, "RiskAssessment?probability=0.5", "v0.5");
        await Finds(store, tag, "RiskAssessment?probability=100,20", "v100", "v99.5", "v100.4", "v20");
        await Finds(store, tag, "RiskAssessment?probability=gt1&probability=lt100", "v99.5", "v20");
        await Finds(store, tag, "RiskAssessment?probability:missing=true", "none");

        // Exponent form: 1.0e2 is [95, 105); 1e2 at least holds 100 and not 20.
        await Finds(store, tag, "RiskAssessment?probability=1.0e2", "v100", "v99.5", "v100.4", "v100.5");
        var exponent = await Matches(store, tag, "RiskAssessment?probability=1e2");
        Assert.Contains("v100", exponent);
        Assert.DoesNotContain("v20", exponent);

        // ap: within a clear margin of 100, and 20 or 0.5 are not.
        var approximately = await Matches(store, tag, "RiskAssessment?probability=ap100");
        Assert.Superset(new HashSet<string> { "v100", "v99.5", "v100.4", "v100.5" }, approximately.ToHashSet());
        Assert.DoesNotContain("v20", approximately);
        Assert.DoesNotContain("v0.5", approximately);
    }

    private static Task<string> Effective(FhirStore store, string tag, string name, DataType? effective) =>
        Put(store, tag, name, new Observation { Status = ObservationStatus.Final, Code = new CodeableConcept("http://loinc.org", "8867-4"), Effective = effective });

    private static Task<string> Risk(FhirStore store, string tag, string name, decimal? probability)
    {
        var risk = new RiskAssessment { Status = ObservationStatus.Final, Subject = new ResourceReference("Patient/nobody") };
        if (probability is not null)
        {
            risk.Prediction = [new RiskAssessment.PredictionComponent { Probability = new FhirDecimal(probability) }];
        }
        else
        {
            risk.Prediction = [new RiskAssessment.PredictionComponent { Rationale = "No estimate" }];
        }

        return Put(store, tag, name, risk);
    }
}
