using System.Diagnostics;

namespace Tessera.Web.Tests.Auth;

/// <summary>
/// <c>tessera users|clients|audit</c> run as a user runs them, with a database they cannot use: one line saying what
/// to do next and exit code 2 (a --db that cannot be used as given) or 1 (a database that cannot be reached or
/// opened) — never a stack trace, and never a new empty store.
/// </summary>
public class AdministrationCommandTests
{
    public static TheoryData<string[], string, int, string> Cases()
    {
        var missing = Path.Combine(Path.GetTempPath(), "tessera-tests-" + Guid.NewGuid().ToString("N"), "missing.db");
        return new TheoryData<string[], string, int, string>
        {
            { ["users", "list"], "nonsense://somewhere", 2, "is not a database Tessera can use" },
            { ["clients", "list"], "sqlite:" + missing, 2, "There is no Tessera database at" },
            { ["audit", "verify"], "sqlite:" + missing, 2, "create one first with tessera serve or tessera demo" },
            { ["audit", "verify"], "postgres://tessera:secret@127.0.0.1:1/tessera", 1, "Failed to connect to 127.0.0.1:1" },
            { ["audit", "export", "--patient", "p1"], "Host=127.0.0.1;Port=1;Database=tessera;Username=tessera", 1, "Check that the server is running" },
            { ["users", "list"], "postgres://tessera@127.0.0.1:1", 2, "names no database" },
        };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_database_that_cannot_be_used_gives_one_line_and_an_exit_code(string[] command, string db, int exitCode, string says)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliPath());
        foreach (var arg in command.Concat(["--db", db]))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("TESSERA_DB");
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var text = (await output + await error).Trim();

        Assert.True(exitCode == process.ExitCode, $"exit {process.ExitCode}: {text}");
        Assert.Contains(says, text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n'));
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", text, StringComparison.Ordinal);
        if (db.StartsWith("sqlite:", StringComparison.Ordinal))
        {
            Assert.False(Directory.Exists(Path.GetDirectoryName(db["sqlite:".Length..])), "the command created a database folder");
        }
    }

    private static string CliPath()
    {
        // tests/Tessera.Web.Tests/bin/<Configuration>/<framework>/ → src/Tessera.Cli/bin/<Configuration>/<framework>/tessera.dll
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Tessera.slnx")))
        {
            root = root.Parent;
        }

        var cli = Path.Combine(root!.FullName, "src", "Tessera.Cli", "bin", here.Parent!.Name, here.Name, "tessera.dll");
        Assert.True(File.Exists(cli), $"Build the command first: {cli} is missing.");
        return cli;
    }
}
