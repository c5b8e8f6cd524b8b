using Tessera.RecordStore.Access;

namespace Tessera.RecordStore.Tests.Access;

/// <summary>A filter's text over an alias is written once and handed out again, per predicate, alias and type.</summary>
public sealed class AccessFilterTextTests
{
    [Fact]
    public void The_text_for_an_alias_is_the_predicate_over_it_and_is_kept()
    {
        var typed = "{r}.resource_type = 'Observation' AND {r}.patient_key = @acc_0";
        var filter = new AccessFilter("{r}.patient_key = @acc_0", [("acc_0", "p1")]) { ForType = type => type == "Observation" ? typed : "{r}.patient_key IS NULL" };

        Assert.Equal("(r.patient_key = @acc_0)", filter.For("r"));
        Assert.Equal("(v.patient_key = @acc_0)", filter.For("v"));
        Assert.Equal("(v.resource_type = 'Observation' AND v.patient_key = @acc_0)", filter.For("v", "Observation"));
        Assert.Equal("(r.patient_key IS NULL)", filter.For("r", "Organization"));

        // A filter of a later request with the same predicates (a caller's filters share them) gets the same texts.
        var later = filter with { Parameters = [("acc_0", "p2")] };
        Assert.Same(filter.For("r"), later.For("r"));
        Assert.Same(filter.For("v", "Observation"), later.For("v", "Observation"));
        Assert.NotSame(filter.For("r"), filter.For("v"));
    }
}
