namespace AiProxy.Pricing;

/// <summary>Money as whole billionths of a US dollar, where it must be counted with integers: atomic counters, Redis scripts
/// (whose numbers are exact up to 2^53, about nine million dollars). A store that shares costs or budgets between instances
/// counts with these, so that every store rounds money the same way.</summary>
public static class Nanodollars
{
    private const decimal PerDollar = 1_000_000_000m;

    /// <summary>The billionths of a dollar in <paramref name="usd"/>, rounded up (so a reservation is never smaller than the
    /// cost it stands for); 0 for a negative amount.</summary>
    /// <param name="usd">An amount in US dollars.</param>
    public static long From(decimal usd) => usd <= 0 ? 0 : (long)decimal.Min(decimal.Ceiling(usd * PerDollar), long.MaxValue / 2);

    /// <summary>The amount in US dollars of <paramref name="nanos"/> billionths of a dollar.</summary>
    /// <param name="nanos">Billionths of a US dollar.</param>
    public static decimal ToUsd(long nanos) => nanos / PerDollar;
}
