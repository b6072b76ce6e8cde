namespace AiProxy.History;

/// <summary>
/// A fixed histogram of durations for percentiles without keeping samples: a duration costs one atomic increment of
/// its bin, and a percentile is read back by interpolating inside the bin it falls in (within one bin's width, which
/// grows with the duration, as an operator's tolerance does).
/// </summary>
internal static class LatencyBins
{
    /// <summary>Upper bounds of the bins in milliseconds; one more bin holds everything above the last.</summary>
    public static readonly double[] UpperBoundsMs =
        [5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 20_000, 30_000, 60_000];

    /// <summary>Bins per histogram, the overflow bin included.</summary>
    public static readonly int Count = UpperBoundsMs.Length + 1;

    /// <summary>The bin of <paramref name="milliseconds"/>.</summary>
    public static int Of(double milliseconds)
    {
        var bounds = UpperBoundsMs;
        for (var i = 0; i < bounds.Length; i++)
        {
            if (milliseconds <= bounds[i])
            {
                return i;
            }
        }

        return bounds.Length;
    }

    /// <summary>The <paramref name="quantile"/> (0 to 1) of the durations counted in <paramref name="bins"/>, or
    /// <see langword="null"/> when none was counted. The overflow bin reads as the last bound.</summary>
    public static double? Percentile(ReadOnlySpan<int> bins, double quantile)
    {
        long total = 0;
        foreach (var count in bins)
        {
            total += count;
        }

        if (total == 0)
        {
            return null;
        }

        var rank = quantile * total;
        long below = 0;
        for (var i = 0; i < bins.Length; i++)
        {
            var count = bins[i];
            if (count > 0 && below + count >= rank)
            {
                if (i == UpperBoundsMs.Length)
                {
                    return UpperBoundsMs[^1];
                }

                var lower = i == 0 ? 0 : UpperBoundsMs[i - 1];
                var share = Math.Clamp((rank - below) / count, 0, 1);
                return lower + ((UpperBoundsMs[i] - lower) * share);
            }

            below += count;
        }

        return UpperBoundsMs[^1];
    }
}
