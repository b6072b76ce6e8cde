using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary><c>failover</c>: by <c>Priority</c> ascending, then by name.</summary>
internal sealed class FailoverStrategy : ISelectionStrategy
{
    public string Name => SelectionStrategyNames.Failover;

    public void Order(string model, Span<IProviderClient> candidates) => SortByPriority(candidates);

    /// <returns>Whether the candidates moved: <see langword="false"/> when they were in failover order already.</returns>
    internal static bool SortByPriority(Span<IProviderClient> candidates)
    {
        // Candidates usually arrive in this order already (the selector keeps them so): then there is nothing to do.
        for (var i = 1; i < candidates.Length; i++)
        {
            if (Compare(candidates[i - 1], candidates[i]) > 0)
            {
                candidates.Sort(static (a, b) => Compare(a, b));
                return true;
            }
        }

        return false;
    }

    internal static int Compare(IProviderClient a, IProviderClient b)
    {
        if (a is ProviderClient { FailoverRank: >= 0 } x && b is ProviderClient { FailoverRank: >= 0 } y)
        {
            return x.FailoverRank.CompareTo(y.FailoverRank);
        }

        var byPriority = a.Priority.CompareTo(b.Priority);
        return byPriority != 0 ? byPriority : string.Compare(a.Name, b.Name, StringComparison.OrdinalIgnoreCase);
    }
}
