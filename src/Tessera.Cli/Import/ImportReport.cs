using Spectre.Console;

namespace Tessera.Cli.Import;

/// <summary>What an import did, per resource type, and why anything was rejected.</summary>
internal sealed class ImportReport
{
    private readonly SortedDictionary<string, (int Created, int Updated, int Rejected)> _byType = new(StringComparer.Ordinal);
    private readonly List<(string Source, string Type, string Reason)> _rejections = [];

    public int Rejected => _rejections.Count;

    public int Total => _byType.Values.Sum(v => v.Created + v.Updated + v.Rejected);

    public void Add(string type, long created, long updated) => Bump(type, c: (int)created, u: (int)updated);

    public void Reject(string source, string type, string reason)
    {
        Bump(type, r: 1);
        _rejections.Add((source, type, reason));
    }

    public (int Created, int Updated, int Rejected) Totals =>
        (_byType.Values.Sum(v => v.Created), _byType.Values.Sum(v => v.Updated), _byType.Values.Sum(v => v.Rejected));

    private void Bump(string type, int c = 0, int u = 0, int r = 0)
    {
        lock (_byType)
        {
            var v = _byType.GetValueOrDefault(type);
            _byType[type] = (v.Created + c, v.Updated + u, v.Rejected + r);
        }
    }

    public void Print()
    {
        var table = new Table().Title("Import summary").AddColumns("Resource type", "Created", "Updated", "Rejected");
        foreach (var (type, v) in _byType)
        {
            table.AddRow(Markup.Escape(type), v.Created.ToString(System.Globalization.CultureInfo.InvariantCulture), v.Updated.ToString(System.Globalization.CultureInfo.InvariantCulture), v.Rejected.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var t = Totals;
        table.AddRow("[bold]Total[/]", $"[bold]{t.Created}[/]", $"[bold]{t.Updated}[/]", t.Rejected > 0 ? $"[bold red]{t.Rejected}[/]" : "[bold]0[/]");
        AnsiConsole.Write(table);
        if (_rejections.Count > 0)
        {
            var reasons = new Table().Title("Rejected, and why").AddColumns("Where", "Type", "Reason");
            foreach (var (source, type, reason) in _rejections.Take(50))
            {
                reasons.AddRow(Markup.Escape(source), Markup.Escape(type), Markup.Escape(reason));
            }

            AnsiConsole.Write(reasons);
            if (_rejections.Count > 50)
            {
                AnsiConsole.MarkupLineInterpolated($"…and {_rejections.Count - 50} more rejections.");
            }
        }
    }
}
