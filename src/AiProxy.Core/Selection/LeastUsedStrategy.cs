using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary><c>least_used</c>: fewest requests in flight, then fewest requests in the last 60 seconds, then failover order.</summary>
internal sealed class LeastUsedStrategy : ISelectionStrategy
{
    public string Name => SelectionStrategyNames.LeastUsed;

    public void Order(string model, Span<IProviderClient> candidates)
    {
        FailoverStrategy.SortByPriority(candidates);
        // Stable insertion sort on (in-flight, recent): tiny spans, no allocation, ties keep failover order.
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

    private static (int InFlight, long Recent) Key(IProviderClient provider)
        => provider is ProviderClient client ? (client.InFlight, client.Health.Recent().Requests) : (provider.InFlight, provider.GetSnapshot().RecentRequests);

    private static int Compare((int InFlight, long Recent) a, (int InFlight, long Recent) b)
        => a.InFlight != b.InFlight ? a.InFlight.CompareTo(b.InFlight) : a.Recent.CompareTo(b.Recent);
}
