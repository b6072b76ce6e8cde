using System.Globalization;

namespace AiProxy.Benchmarks.Clients;

/// <summary>Reads another process's resident set size from <c>/proc/PID/status</c> (Linux).</summary>
internal static class ProcessMemory
{
    public static long ResidentKilobytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var value = line["VmRSS:".Length..].Trim();
                return long.Parse(value.AsSpan(0, value.IndexOf(' ', StringComparison.Ordinal)), NumberStyles.Integer, CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"No VmRSS in /proc/{pid}/status.");
    }
}
