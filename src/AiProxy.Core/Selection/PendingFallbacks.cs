using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// The fallbacks a first-choice selection (<see cref="ClientSelector.SelectFirst"/>) left unordered, and how to order them:
/// <see cref="Order"/> puts them in the order the strategy's <see cref="ISelectionStrategy.Order"/> would have, from the
/// providers' numbers at that time. <see langword="default"/> when there is nothing left to order.
/// </summary>
internal readonly struct PendingFallbacks
{
    private readonly IFirstChoiceStrategy? _strategy;
    private readonly string _model;
    private readonly int _count;

    public PendingFallbacks(IFirstChoiceStrategy strategy, string model, int count)
    {
        _strategy = strategy;
        _model = model;
        _count = count;
    }

    /// <summary>Whether <see cref="Order"/> has anything to do.</summary>
    public bool IsPending => _strategy is not null;

    /// <summary>Orders the fallbacks in <paramref name="candidates"/>: the span <c>SelectFirst</c> filled, as it left it.</summary>
    public void Order(Span<IProviderClient> candidates) => _strategy?.OrderFallbacks(_model, candidates[.._count]);
}
