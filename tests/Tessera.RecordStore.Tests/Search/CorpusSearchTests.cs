using System.Globalization;
using Hl7.Fhir.Model;
using Tessera.RecordStore.Indexing;
using Tessera.RecordStore.Interactions;
using Tessera.RecordStore.Serialization;
using Tessera.RecordStore.Tests.Corpus;
using Tessera.RecordStore.Tests.Infrastructure;
using Tessera.Testing;
using Xunit.Abstractions;

namespace Tessera.RecordStore.Tests.Search;

/// <summary>The official R4 examples, loaded once per backend for the corpus search tests.</summary>
public sealed class CorpusStores : IAsyncLifetime
{
    private readonly Dictionary<string, (TestDatabase Database, FhirStore Store)> _stores = [];

    public FhirStore this[string backend] => _stores[backend].Store;

    /// <summary>The examples written (plain resources, not transaction or batch bundles), by name.</summary>
    public List<(string Name, Resource Resource)> Written { get; } = [];

    public async System.Threading.Tasks.Task InitializeAsync()
    {
        var examples = new List<(string Name, Resource Resource)>();
        foreach (var (name, json) in ExampleCorpus.All)
        {
            try
            {
                var resource = FhirSerialization.ParseJson(json);
                if (resource is not Bundle { Type: Bundle.BundleType.Transaction or Bundle.BundleType.Batch } && resource.Id is { Length: > 0 })
                {
                    examples.Add((name, resource));
                }
            }
            catch (FhirException)
            {
                // Examples the parser refuses are the round-trip test's concern.
            }
        }

        foreach (var backend in new[] { "sqlite", "postgres" })
        {
            var db = await TestDatabase.CreateAsync(backend);
            var store = await FhirStore.OpenAsync(db.Location);
            _stores[backend] = (db, store);
            // Transactions of 100 updates keep the load short; a chunk the store refuses is written one by one.
            var written = new List<(string, Resource)>();
            await Parallel.ForEachAsync(examples.Chunk(100), new ParallelOptions { MaxDegreeOfParallelism = backend == "postgres" ? 4 : 1 }, async (chunk, ct) =>
            {
                var bundle = new Bundle { Type = Bundle.BundleType.Transaction };
                foreach (var (_, resource) in chunk)
                {
                    bundle.Entry.Add(new Bundle.EntryComponent
                    {
                        Resource = resource.DeepCopy(),
                        Request = new Bundle.RequestComponent { Method = Bundle.HTTPVerb.PUT, Url = $"{resource.TypeName}/{resource.Id}" },
                    });
                }

                var ok = (await store.ExecuteAsync(new FhirRequest { Method = "POST", Path = string.Empty, Resource = bundle }, ct)).Status == 200
                    ? chunk.ToList()
                    : await OneByOneAsync(store, chunk, ct);
                lock (written)
                {
                    written.AddRange(ok);
                }
            });
            if (Written.Count == 0)
            {
                Written.AddRange(written.OrderBy(w => w.Item1, StringComparer.Ordinal));
            }
        }
    }

    private static async Task<List<(string, Resource)>> OneByOneAsync(FhirStore store, IEnumerable<(string Name, Resource Resource)> items, CancellationToken ct)
    {
        var ok = new List<(string, Resource)>();
        foreach (var item in items)
        {
            var response = await store.ExecuteAsync(new FhirRequest { Method = "PUT", Path = $"{item.Resource.TypeName}/{item.Resource.Id}", Resource = item.Resource.DeepCopy() }, ct);
            if (response.Status is 200 or 201)
            {
                ok.Add(item);
            }
        }

        return ok;
    }

    public async System.Threading.Tasks.Task DisposeAsync()
    {
        foreach (var (db, store) in _stores.Values)
        {
            await store.DisposeAsync();
            await db.DisposeAsync();
        }
    }
}

/// <summary>
/// For every R4 core search parameter some official example populates, a search for that example's indexed value
/// (generated from the data, per type) must find the example, on both backends. Parameters for which no search
/// can be generated are listed with the reason; none is skipped silently.
/// </summary>
public sealed class CorpusSearchTests(CorpusStores corpus, ITestOutputHelper output) : IClassFixture<CorpusStores>
{
    private const double Open = long.MaxValue / 4;

    [Theory]
    [MemberData(nameof(StoreFixture.Backends), MemberType = typeof(StoreFixture))]
    public async System.Threading.Tasks.Task Each_populated_core_parameter_finds_its_example(string backend)
    {
        var store = corpus[backend];
        var indexer = new ResourceIndexer(SearchParameterRegistry.Core);
        var cases = new Dictionary<(string Type, string Code), (string Example, string Id, string? Query, string? Reason)>();
        foreach (var (name, resource) in corpus.Written)
        {
            var values = indexer.Extract(resource);
            foreach (var param in SearchParameterRegistry.Core.For(resource.TypeName).Where(p => !p.IsCommon))
            {
                var key = (resource.TypeName, param.Code);
                if (cases.TryGetValue(key, out var existing) && existing.Query is not null)
                {
                    continue;
                }

                var (query, reason, populated) = Generate(param, values, resource);
                if (populated && (query is not null || !cases.ContainsKey(key)))
                {
                    cases[key] = (name, resource.Id!, query, reason);
                }
            }
        }

        var found = 0;
        var missed = new List<string>();
        foreach (var ((type, code), (example, id, query, _)) in cases.Where(c => c.Value.Query is not null).OrderBy(c => c.Key))
        {
            var response = await store.ExecuteAsync(FhirRequest.FromUrl("GET", $"{type}?_id={Uri.EscapeDataString(id)}&{query}&_total=none"));
            var hit = response.Status == 200 && ((Bundle)response.Resource!).Entry.Any(e => e.Resource?.Id == id && e.Search?.Mode == Bundle.SearchEntryMode.Match);
            if (hit)
            {
                found++;
            }
            else
            {
                missed.Add($"{type}.{code} ({example}): {type}?{query} -> {response.Status} {StoreExtensions.Describe(response)}");
            }
        }

        var exceptions = cases.Where(c => c.Value.Query is null).OrderBy(c => c.Key).Select(c => $"{c.Key.Type}.{c.Key.Code} ({c.Value.Example}): {c.Value.Reason}").ToList();
        output.WriteLine($"{backend}: {found} of {cases.Count} populated core parameters covered ({corpus.Written.Count} examples); {exceptions.Count} exceptions, {missed.Count} missed");
        foreach (var e in exceptions)
        {
            output.WriteLine("  exception: " + e);
        }

        Assert.True(missed.Count == 0, $"{missed.Count} generated searches did not find their example:\n" + string.Join("\n", missed.Take(60)));
        Assert.Equal(cases.Count, found + exceptions.Count);
        // Nearly every populated parameter is covered; the exceptions are the kinds listed in Generate.
        Assert.True(found >= cases.Count * 0.95, $"only {found} of {cases.Count} covered");
    }

    /// <summary>A query finding the indexed value of a parameter, or the reason none can be written; populated says whether the example has a value.</summary>
    private static (string? Query, string? Reason, bool Populated) Generate(SearchParam param, IndexValues values, Resource resource)
    {
        var code = param.Code;
        switch (param.Type)
        {
            case SearchParamType.Composite:
                var parts = new List<string>();
                for (var i = 0; i < param.Components!.Count; i++)
                {
                    var component = ResourceIndexer.CompositeComponentCode(code, i) + "#0";
                    if (Component(param.Components[i].Type, component, values) is not { } part)
                    {
                        return (null, $"component {i} ({param.Components[i].Type}) has no searchable value", i > 0 || Has(values, component));
                    }

                    parts.Add(part);
                }

                return ($"{code}={Uri.EscapeDataString(string.Join("$", parts))}", null, true);
            case SearchParamType.Special:
                if (resource is Location { Position: { Latitude: { } lat, Longitude: { } lon } })
                {
                    return ($"near={lat.ToString(CultureInfo.InvariantCulture)}|{lon.ToString(CultureInfo.InvariantCulture)}|1|km", null, true);
                }

                return (null, "special parameter without a position", values.Numbers.Any(n => n.Param.StartsWith(code, StringComparison.Ordinal)));
            case SearchParamType.Date:
                var date = values.Dates.FirstOrDefault(d => d.Param == code);
                if (date.Param is null)
                {
                    return (null, null, false);
                }

                var terms = new List<string>();
                if (date.Low > long.MinValue / 4 && Iso(date.Low) is { } low)
                {
                    terms.Add($"{code}=ge{Uri.EscapeDataString(low)}");
                }

                if (date.High < long.MaxValue / 4 && Iso(date.High) is { } high)
                {
                    terms.Add($"{code}=le{Uri.EscapeDataString(high)}");
                }

                return terms.Count == 0 ? (null, "an open period without start or end", true) : (string.Join("&", terms), null, true);
            case SearchParamType.Number:
                var number = values.Numbers.FirstOrDefault(n => n.Param == code);
                return number.Param is null ? (null, null, false) : ($"{code}=ge{Num(number.Low)}&{code}=le{Num(number.High)}", null, true);
            case SearchParamType.Quantity:
                var q = values.Quantities.FirstOrDefault(x => x.Param == code);
                if (q.Param is null)
                {
                    return (null, null, false);
                }

                var unit = $"|{Escape(q.System ?? string.Empty)}|{Escape(q.Code ?? string.Empty)}";
                var qt = new List<string>();
                if (Math.Abs(q.Low) < Open)
                {
                    qt.Add($"{code}={Uri.EscapeDataString($"ge{Num(q.Low)}{unit}")}");
                }

                if (Math.Abs(q.High) < Open)
                {
                    qt.Add($"{code}={Uri.EscapeDataString($"le{Num(q.High)}{unit}")}");
                }

                return qt.Count == 0 ? (null, "a range without bounds", true) : (string.Join("&", qt), null, true);
            default:
                var value = Component(param.Type, code, values);
                if (value is not null)
                {
                    return ($"{code}={Uri.EscapeDataString(value)}", null, true);
                }

                if (param.Type == SearchParamType.Token && values.Tokens.FirstOrDefault(t => t.Param == code && t.Text is not null) is { Param: not null } text)
                {
                    return ($"{code}:text={Uri.EscapeDataString(text.Text!)}", null, true);
                }

                if (param.Type == SearchParamType.Reference && values.Tokens.FirstOrDefault(t => t.Param == code + ":identifier" && t.Code is not null) is { Param: not null } ident)
                {
                    return ($"{code}:identifier={Uri.EscapeDataString(Token(ident.System, ident.Code!))}", null, true);
                }

                var populated = Has(values, code);
                return (null, populated ? Why(param.Type, code, values) : null, populated);
        }
    }

    /// <summary>An equality-style value for one row of the index (a composite component, or a plain parameter).</summary>
    private static string? Component(SearchParamType type, string param, IndexValues values)
    {
        switch (type)
        {
            case SearchParamType.String:
                return values.Strings.FirstOrDefault(s => s.Param == param).Exact is { } s ? Escape(s).Replace("\\|", "|", StringComparison.Ordinal) : null;
            case SearchParamType.Token:
                var t = values.Tokens.FirstOrDefault(x => x.Param == param && x.Code is not null);
                return t.Param is null ? null : Token(t.System, t.Code!);
            case SearchParamType.Reference:
                var r = values.References.FirstOrDefault(x => x.Param == param && (x.TargetId is not null || (x.TargetUrl is { } u && !u.StartsWith('#') && (u.Contains(':', StringComparison.Ordinal) || u.Contains('/', StringComparison.Ordinal)))));
                // An absolute URL names its own server's resource: it is searched by that URL, not by its Type/id.
                return r.Param is null ? null : r.TargetId is not null && r.TargetUrl?.Contains("://", StringComparison.Ordinal) != true ? $"{r.TargetType}/{r.TargetId}" : Escape(r.TargetUrl!);
            case SearchParamType.Uri:
                return values.Uris.FirstOrDefault(u => u.Param == param).Value is { } uri ? Escape(uri) : null;
            case SearchParamType.Quantity:
                var q = values.Quantities.FirstOrDefault(x => x.Param == param);
                return q.Param is null || Math.Abs(q.Low) >= Open || Math.Abs(q.High) >= Open ? null : $"ap{Num((q.Low + q.High) / 2)}|{Escape(q.System ?? string.Empty)}|{Escape(q.Code ?? string.Empty)}";
            case SearchParamType.Number:
                var n = values.Numbers.FirstOrDefault(x => x.Param == param);
                return n.Param is null ? null : $"ap{Num((n.Low + n.High) / 2)}";
            case SearchParamType.Date:
                var d = values.Dates.FirstOrDefault(x => x.Param == param);
                return d.Param is null || d.Low <= long.MinValue / 4 ? null : Iso(d.Low) is { } iso ? "ap" + iso : null;
            default:
                return null;
        }
    }

    private static string Why(SearchParamType type, string code, IndexValues values) => type switch
    {
        SearchParamType.Reference when values.References.Any(r => r.Param == code && r.TargetUrl?.StartsWith('#') == true) => "reference to a contained resource (not searchable by FHIR rules)",
        SearchParamType.Reference => "a canonical that is neither a url nor Type/id (a bare name)",
        SearchParamType.Token => "token without a code or text",
        _ => "no value a search can name",
    };

    private static bool Has(IndexValues values, string param) =>
        values.Strings.Any(x => x.Param == param) || values.Tokens.Any(x => x.Param == param) || values.Dates.Any(x => x.Param == param)
        || values.Numbers.Any(x => x.Param == param) || values.Quantities.Any(x => x.Param == param) || values.References.Any(x => x.Param == param)
        || values.Uris.Any(x => x.Param == param);

    private static string Token(string? system, string code) => system is null ? Escape(code) : $"{Escape(system)}|{Escape(code)}";

    private static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace(",", "\\,", StringComparison.Ordinal).Replace("$", "\\$", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal);

    private static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static string? Iso(long ms)
    {
        try
        {
            return DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
