namespace Tessera.RecordStore.Indexing;

/// <summary>The search index rows extracted from one resource version.</summary>
internal sealed class IndexValues
{
    public List<(string Param, string Norm, string Exact)> Strings { get; } = [];

    public List<(string Param, string? System, string? Code, string? Text)> Tokens { get; } = [];

    public List<(string Param, long Low, long High)> Dates { get; } = [];

    public List<(string Param, double Low, double High)> Numbers { get; } = [];

    public List<(string Param, string? System, string? Code, double Low, double High)> Quantities { get; } = [];

    public List<(string Param, string? TargetType, string? TargetId, string? TargetUrl)> References { get; } = [];

    public List<(string Param, string Value)> Uris { get; } = [];
}
