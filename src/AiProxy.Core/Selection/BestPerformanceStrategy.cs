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
        var n = candidates.Length;
        if (n <= 1)
        {
            return;
        }

        var latencies = n <= CandidateSort.StackLimit ? stackalloc long[n] : new long[n];
        var successRates = n <= CandidateSort.StackLimit ? stackalloc double[n] : new double[n];
        if (!Read(candidates, latencies, successRates) && FailoverStrategy.SortByPriority(candidates))
        {
            Read(candidates, latencies, successRates); // they were not in failover order: read them again in it
        }

        var order = n <= CandidateSort.StackLimit ? stackalloc int[n] : new int[n];
        CandidateSort.Identity(order);
        CandidateSort.Sort(order, new Rank(latencies, successRates));
        CandidateSort.Apply(candidates, order);
    }

    /// <returns>Whether the candidates came in failover order.</returns>
    private static bool Read(ReadOnlySpan<IProviderClient> candidates, Span<long> latencies, Span<double> successRates)
    {
        var reader = new CandidateReader();
        for (var i = 0; i < candidates.Length; i++)
        {
            var view = reader.Read(candidates[i]);
            // Unmeasured sorts first: -1 is below every real latency.
            latencies[i] = (long)view.LatencyTicks;
            successRates[i] = view.SuccessRate;
        }

        return reader.InFailoverOrder;
    }

    /// <summary>Lower latency first, then higher success rate.</summary>
    private readonly ref struct Rank(ReadOnlySpan<long> latencies, ReadOnlySpan<double> successRates) : ICandidateRank
    {
        private readonly ReadOnlySpan<long> _latencies = latencies;
        private readonly ReadOnlySpan<double> _successRates = successRates;

        public bool Before(int a, int b)
            => _latencies[a] != _latencies[b] ? _latencies[a] < _latencies[b] : _successRates[a] > _successRates[b];
    }
}
