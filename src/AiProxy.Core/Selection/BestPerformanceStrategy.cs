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
        var keys = candidates.Length <= CandidateSort.StackLimit
            ? stackalloc (long Latency, double SuccessRate)[candidates.Length]
            : new (long Latency, double SuccessRate)[candidates.Length];
        long epoch = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            var view = CandidateView.Of(candidates[i], ref epoch);
            // Unmeasured sorts first: -1 is below every real latency.
            keys[i] = ((long)view.LatencyTicks, view.SuccessRate);
        }

        CandidateSort.SortBy(candidates, keys, static (a, b) => a.Latency != b.Latency ? a.Latency.CompareTo(b.Latency) : b.SuccessRate.CompareTo(a.SuccessRate));
    }
}
