namespace AiProxy.Budgets;

/// <summary>The answer of <see cref="IProxyBudgetStore.ReserveAsync"/>.</summary>
/// <param name="CallerAdmitted">Whether the caller's budget had room for the request's cost (always, without a budget); when
/// it had, the cost is now reserved.</param>
/// <param name="CallerCommitted">USD spent and reserved in the caller's budget, this request's reservation included when
/// admitted.</param>
/// <param name="ProvidersAvailable">Per entry of <see cref="ProxyBudgetRequest.Providers"/>, in order: whether its cost fits.</param>
public sealed record ProxyBudgetDecision(bool CallerAdmitted, decimal CallerCommitted, IReadOnlyList<bool> ProvidersAvailable)
{
    /// <summary>
    /// The store could not decide and refuses rather than guess (a shared store that is unreachable and fails closed):
    /// nothing was reserved, and the request is refused with 503 <c>budget_unavailable</c>, not with a quota error. Set it
    /// with <see cref="CallerAdmitted"/> <see langword="false"/>.
    /// </summary>
    public bool Unavailable { get; init; }
}
