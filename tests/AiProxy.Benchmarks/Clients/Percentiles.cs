namespace AiProxy.Benchmarks.Clients;

/// <summary>Nearest-rank percentiles of a sample.</summary>
internal static class Percentiles
{
    public static double Of(IReadOnlyList<double> sorted, double percentile)
    {
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    public static Summary Summarize(List<double> values)
    {
        values.Sort();
        return new Summary(Of(values, 50), Of(values, 99), values.Count == 0 ? double.NaN : values[^1], values.Count);
    }

    /// <summary>p50, p99 and max, in the unit of the values.</summary>
    public readonly record struct Summary(double P50, double P99, double Max, int Count);
}
