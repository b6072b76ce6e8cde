using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

namespace AiProxy.Benchmarks.Micro;

/// <summary><c>micro</c>: the BenchmarkDotNet benchmarks of the request path's building blocks; arguments go to BenchmarkDotNet.</summary>
internal static class MicroCommand
{
    public static int Run(string[] args)
    {
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(MicroCommand).Assembly).Run(args, DefaultConfig.Instance);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
