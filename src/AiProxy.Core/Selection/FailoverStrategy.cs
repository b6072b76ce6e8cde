using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary><c>failover</c>: by <c>Priority</c> ascending, then by name.</summary>
internal sealed class FailoverStrategy : ISelectionStrategy
{
    public string Name => SelectionStrategyNames.Failover;

    public void Order(string model, Span<IProviderClient> candidates) => SortByPriority(candidates);

    internal static void SortByPriority(Span<IProviderClient> candidates)
        => candidates.Sort(static (a, b) =>
        {
            var byPriority = a.Priority.CompareTo(b.Priority);
            return byPriority != 0 ? byPriority : string.Compare(a.Name, b.Name, StringComparison.OrdinalIgnoreCase);
        });
}
