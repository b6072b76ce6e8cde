namespace AiProxy.Pricing;

/// <summary>Money as whole billionths of a US dollar, where it must be counted with integers: atomic counters, Redis scripts
/// (whose numbers are exact up to 2^53, about nine million dollars).</summary>
internal static class Nanodollars
{
    private const decimal PerDollar = 1_000_000_000m;

    /// <summary>Rounded up, so a reservation is never smaller than the cost it stands for.</summary>
    public static long From(decimal usd) => usd <= 0 ? 0 : (long)decimal.Min(decimal.Ceiling(usd * PerDollar), long.MaxValue / 2);

    public static decimal ToUsd(long nanos) => nanos / PerDollar;
}
