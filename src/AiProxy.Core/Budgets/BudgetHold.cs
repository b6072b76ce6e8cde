namespace AiProxy.Budgets;

/// <summary>
/// What one request holds in the budgets: the caller's budget and the worst-case cost reserved in it, which candidate
/// providers' budgets still had room at admission (selection skips the others, before panic), and the worst case reserved
/// in each budgeted provider an attempt started on. Settled once, with the real cost.
/// </summary>
internal sealed class BudgetHold(ProxyBudget? caller, decimal reserved, ProxyBudgetDecision decision, ProviderBudget[] providers)
{
    private int _settled;

    // USD reserved per entry of providers by the attempts (0: none yet); guarded by the array itself, with _settled, so
    // a reservation made while the request settles is given back by whichever side sees it last.
    private readonly decimal[] _attempts = providers.Length == 0 ? [] : new decimal[providers.Length];

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

    /// <summary>The store could not decide (a shared store that fails closed is unreachable): refused with 503.</summary>
    public bool StoreUnavailable => decision.Unavailable;

    /// <summary>The request may go ahead.</summary>
    public bool IsAdmitted => CallerAdmitted && !ProvidersExhausted && !StoreUnavailable;

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

    /// <summary>The index of <paramref name="provider"/> among <see cref="Providers"/>, or -1 when it has no budget.</summary>
    public int IndexOf(string provider)
    {
        for (var i = 0; i < providers.Length; i++)
        {
            if (string.Equals(providers[i].Provider, provider, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Whether an attempt already reserved its worst case in the budget of provider <paramref name="index"/>.</summary>
    public bool HasAttemptReservation(int index)
    {
        lock (_attempts)
        {
            return _attempts[index] > 0;
        }
    }

    /// <summary>Records <paramref name="cost"/> reserved in the budget of provider <paramref name="index"/>;
    /// <see langword="false"/> when the hold is already settled (the caller gives the reservation back itself).</summary>
    public bool AddAttemptReservation(int index, decimal cost)
    {
        lock (_attempts)
        {
            if (IsSettled)
            {
                return false;
            }

            _attempts[index] += cost;
            return true;
        }
    }

    /// <summary>Takes what the attempts reserved, per provider (once: the hold must be settled first).</summary>
    public decimal[] TakeAttemptReservations()
    {
        lock (_attempts)
        {
            var taken = _attempts.ToArray();
            Array.Clear(_attempts);
            return taken;
        }
    }

    public bool IsSettled => Volatile.Read(ref _settled) != 0;

    /// <summary>True the first time only: a hold is settled once.</summary>
    public bool TrySettle()
    {
        lock (_attempts)
        {
            return Interlocked.Exchange(ref _settled, 1) == 0;
        }
    }
}

/// <summary>A candidate provider with a budget, in its current period.</summary>
internal readonly record struct ProviderBudget(string Provider, ProxyBudget Budget);
