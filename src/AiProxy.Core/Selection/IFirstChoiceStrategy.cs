using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// A strategy whose first choice costs less than its whole order. The gateway's request path asks for the first only
/// and has the fallbacks ordered when the first attempt fails, which most requests never do.
/// </summary>
internal interface IFirstChoiceStrategy : ISelectionStrategy
{
    /// <summary>Moves the first choice to <c>candidates[0]</c>, as <see cref="ISelectionStrategy.Order"/> would have; the rest
    /// are left in an order that only <see cref="OrderFallbacks"/> completes.</summary>
    /// <param name="model">The requested model, or an empty string when the request names none.</param>
    /// <param name="candidates">The providers to order, as for <see cref="ISelectionStrategy.Order"/>.</param>
    void OrderFirst(string model, Span<IProviderClient> candidates);

    /// <summary>After <see cref="OrderFirst"/>: orders <c>candidates[1..]</c> as <see cref="ISelectionStrategy.Order"/> would
    /// have, from the providers' numbers as they are now; <c>candidates[0]</c> stays.</summary>
    /// <param name="model">The model given to <see cref="OrderFirst"/>.</param>
    /// <param name="candidates">The candidates as <see cref="OrderFirst"/> left them.</param>
    void OrderFallbacks(string model, Span<IProviderClient> candidates);
}
