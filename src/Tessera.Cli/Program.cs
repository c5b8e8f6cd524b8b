using System.CommandLine;
using Tessera.Cli.Audit;
using Tessera.Cli.Clients;
using Tessera.Cli.Demo;
using Tessera.Cli.Hl7;
using Tessera.Cli.Import;
using Tessera.Cli.Mpi;
using Tessera.Cli.Serve;
using Tessera.Cli.Users;

namespace Tessera.Cli;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("Tessera — the integrated digital care record for a health and social care region.")
        {
            ServeCommand.Create(),
            ImportCommand.Create(),
            DemoCommand.Create(),
            Hl7Command.Create(),
            MpiCommand.Create(),
            UsersCommand.Create(),
            ClientsCommand.Create(),
            AuditCommand.Create(),
        };
        return await root.Parse(args).InvokeAsync();
    }
}
