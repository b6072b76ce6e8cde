using System.Diagnostics;

namespace AiProxy.Benchmarks.Clients;

/// <summary>CPU time, open files and threads of another process (Linux <c>/proc</c>), read around a measured phase.</summary>
internal static class ProcessCounters
{
    /// <summary>User + system CPU time of <paramref name="pid"/> so far.</summary>
    public static TimeSpan CpuTime(int pid)
    {
        using var process = Process.GetProcessById(pid);
        return process.TotalProcessorTime;
    }

    /// <summary>File descriptors <paramref name="pid"/> holds now (sockets included): what the per-process limit counts.</summary>
    public static int OpenFiles(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;

    /// <summary>Threads of <paramref name="pid"/> now: a thread pool that grows while streams only wait would show here.</summary>
    public static int Threads(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/task").Length;
}
