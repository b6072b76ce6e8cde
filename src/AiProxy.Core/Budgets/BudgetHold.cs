namespace AiProxy.Budgets;

/// <summary>
/// What one request holds in the budgets: the caller's budget and the worst-case cost reserved in it, and which candidate
/// providers' budgets still have room (selection skips the others, before panic). Settled once, with the real cost.
/// </summary>
internal sealed class BudgetHold(ProxyBudget? caller, decimal reserved, ProxyBudgetDecision decision, ProviderBudget[] providers)
{
    private int _settled;

    public ProxyBudget? Caller { get; } = caller;

    /// <summary>USD reserved in the caller's budget (0 when refused or without one).</summary>
    public decimal Reserved { get; } = decimal.Max(0, decision.CallerAdmitted ? reserved : 0);

    public bool CallerAdmitted => decision.CallerAdmitted;

    /// <summary>USD left in the caller's budget once this request's reservation is counted.</summary>
    public decimal Remaining => Caller is { } budget ? decimal.Max(0, budget.Amount - decision.CallerCommitted) : 0;

    /// <summary>Every candidate the caller may reach has a provider budget with no room: nothing may answer.</summary>
    public bool ProvidersExhausted { get; init; }

    /// <summary>The earliest end of the exhausted providers' periods (<see cref="ProvidersExhausted"/>).</summary>
    public DateTimeOffset? ProvidersResetAt { get; init; }

    /// <summary>The request may go ahead.</summary>
    public bool IsAdmitted => CallerAdmitted && !ProvidersExhausted;

    public ReadOnlySpan<ProviderBudget> Providers => providers;

    /// <summary>Whether <paramref name="provider"/>'s budget has room for this request (true for one without a budget).</summary>
    public bool HasProviderBudget(string provider)
    {
        for (var i = 0; i < providers.Length; i++)
        {
            if (string.Equals(providers[i].Provider, provider, StringComparison.OrdinalIgnoreCase))
            {
                return decision.ProvidersAvailable.Count <= i || decision.ProvidersAvailable[i];
            }
        }

        return true;
    }

    public bool IsSettled => Volatile.Read(ref _settled) != 0;

    /// <summary>True the first time only: a hold is settled once.</summary>
    public bool TrySettle() => Interlocked.Exchange(ref _settled, 1) == 0;
}

/// <summary>A candidate provider with a budget, in its current period.</summary>
internal readonly record struct ProviderBudget(string Provider, ProxyBudget Budget);
