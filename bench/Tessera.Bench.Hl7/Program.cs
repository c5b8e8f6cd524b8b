using BenchmarkDotNet.Running;

namespace Tessera.Bench.Hl7;

public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
