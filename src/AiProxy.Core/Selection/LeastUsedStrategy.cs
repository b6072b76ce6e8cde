using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary><c>least_used</c>: fewest requests in flight, then fewest requests in the last 60 seconds, then failover order.</summary>
internal sealed class LeastUsedStrategy : ISelectionStrategy
{
    public string Name => SelectionStrategyNames.LeastUsed;

    public void Order(string model, Span<IProviderClient> candidates)
    {
        FailoverStrategy.SortByPriority(candidates);
        var keys = candidates.Length <= CandidateSort.StackLimit
            ? stackalloc (int InFlight, long Recent)[candidates.Length]
            : new (int InFlight, long Recent)[candidates.Length];
        long epoch = 0;
        for (var i = 0; i < candidates.Length; i++)
        {
            var view = CandidateView.Of(candidates[i], ref epoch);
            keys[i] = (view.InFlight, view.RecentRequests);
        }

        CandidateSort.SortBy(candidates, keys, static (a, b) => a.InFlight != b.InFlight ? a.InFlight.CompareTo(b.InFlight) : a.Recent.CompareTo(b.Recent));
    }
}
