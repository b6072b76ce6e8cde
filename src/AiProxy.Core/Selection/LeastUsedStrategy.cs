using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary><c>least_used</c>: fewest requests in flight, then fewest requests in the last 60 seconds, then failover order.</summary>
internal sealed class LeastUsedStrategy : ISelectionStrategy
{
    public string Name => SelectionStrategyNames.LeastUsed;

    public void Order(string model, Span<IProviderClient> candidates)
    {
        var n = candidates.Length;
        if (n <= 1)
        {
            return;
        }

        var inFlight = n <= CandidateSort.StackLimit ? stackalloc int[n] : new int[n];
        var recent = n <= CandidateSort.StackLimit ? stackalloc long[n] : new long[n];
        if (!Read(candidates, inFlight, recent) && FailoverStrategy.SortByPriority(candidates))
        {
            Read(candidates, inFlight, recent); // they were not in failover order: read them again in it
        }

        var order = n <= CandidateSort.StackLimit ? stackalloc int[n] : new int[n];
        CandidateSort.Identity(order);
        CandidateSort.Sort(order, new Rank(inFlight, recent));
        CandidateSort.Apply(candidates, order);
    }

    /// <returns>Whether the candidates came in failover order.</returns>
    private static bool Read(ReadOnlySpan<IProviderClient> candidates, Span<int> inFlight, Span<long> recent)
    {
        var reader = new CandidateReader();
        for (var i = 0; i < candidates.Length; i++)
        {
            var view = reader.Read(candidates[i]);
            inFlight[i] = view.InFlight;
            recent[i] = view.RecentRequests;
        }

        return reader.InFailoverOrder;
    }

    /// <summary>Fewer in flight first, then fewer recent requests.</summary>
    private readonly ref struct Rank(ReadOnlySpan<int> inFlight, ReadOnlySpan<long> recent) : ICandidateRank
    {
        private readonly ReadOnlySpan<int> _inFlight = inFlight;
        private readonly ReadOnlySpan<long> _recent = recent;

        public bool Before(int a, int b) => _inFlight[a] != _inFlight[b] ? _inFlight[a] < _inFlight[b] : _recent[a] < _recent[b];
    }
}
