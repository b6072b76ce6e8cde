using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// <c>best_performance</c>: unmeasured providers first (so they get measured), then lowest latency EWMA, higher
/// success rate breaking ties, then failover order.
/// </summary>
internal sealed class BestPerformanceStrategy : ISelectionStrategy
{
    public string Name => SelectionStrategyNames.BestPerformance;

    public void Order(string model, Span<IProviderClient> candidates)
    {
        FailoverStrategy.SortByPriority(candidates);
        for (var i = 1; i < candidates.Length; i++)
        {
            var current = candidates[i];
            var key = Key(current);
            var j = i - 1;
            while (j >= 0 && Compare(Key(candidates[j]), key) > 0)
            {
                candidates[j + 1] = candidates[j];
                j--;
            }

            candidates[j + 1] = current;
        }
    }

    private static (double Latency, double SuccessRate) Key(IProviderClient provider)
    {
        var snapshot = provider.GetSnapshot();
        // Unmeasured sorts first: -1 is below every real latency.
        return (snapshot.LatencyEwma is { } latency ? latency.Ticks : -1, snapshot.SuccessRate);
    }

    private static int Compare((double Latency, double SuccessRate) a, (double Latency, double SuccessRate) b)
        => a.Latency != b.Latency ? a.Latency.CompareTo(b.Latency) : b.SuccessRate.CompareTo(a.SuccessRate);
}
