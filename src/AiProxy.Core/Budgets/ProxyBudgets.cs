using System.Collections.Concurrent;
using AiProxy.Errors;
using AiProxy.Pricing;
using AiProxy.Providers;
using AiProxy.RateLimiting;
using AiProxy.Requests;
using AiProxy.Selection;
using AiProxy.Tokens;

namespace AiProxy.Budgets;

/// <summary>
/// The budget side of admission and settlement: reserves a request's worst-case cost in its caller's budget and checks its
/// candidates' provider budgets (<see cref="ReserveAsync"/>), and replaces the reservation with the real cost when the
/// request is over (<see cref="SettleAsync"/>). A request with no budget in sight costs nothing here: no allocation, no call.
/// </summary>
internal sealed class ProxyBudgets(
    IProxyBudgetStore store, RequestPricing pricing, ProviderRegistry registry, TimeProvider time)
{
    private const string InsufficientQuota = "insufficient_quota";

    /// <summary>Per provider: the budget key last checked and whether it had no room then (<c>/status</c>'s <c>budget_exhausted</c>).</summary>
    private readonly ConcurrentDictionary<string, (string Key, bool Exhausted)> _lastChecks = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The budget of <paramref name="provider"/> in the current period, or <see langword="null"/> without one.</summary>
    public ProxyBudget? ProviderBudget(ProviderClient provider)
        => provider.Options.Budget is { Amount: { } amount } budget
            ? BudgetPeriods.Budget("provider:" + provider.Name.ToLowerInvariant(), new ProxyBudgetLimit(amount, budget.Period), time.GetUtcNow())
            : null;

    /// <summary>The budget of <paramref name="caller"/> in the current period, or <see langword="null"/> without one.</summary>
    public ProxyBudget? CallerBudget(ProxyCaller caller)
        => caller.Budget is { } limit ? BudgetPeriods.Budget(caller.Partition, limit, time.GetUtcNow()) : null;

    /// <summary>Whether <paramref name="budget"/> of <paramref name="provider"/> has no room: spent, or found too full for the
    /// last request that checked it.</summary>
    public bool IsExhausted(string provider, ProxyBudget budget, ProxyBudgetSpend spend)
        => spend.Spent + spend.Reserved >= budget.Amount
            || (_lastChecks.TryGetValue(provider, out var last) && last.Exhausted && string.Equals(last.Key, budget.Key, StringComparison.Ordinal));

    /// <summary>What is spent and reserved in <paramref name="budget"/>.</summary>
    public ValueTask<ProxyBudgetSpend> GetSpendAsync(ProxyBudget budget, CancellationToken cancellationToken)
        => store.GetSpendAsync(budget.Key, cancellationToken);

    /// <summary>Starts the budget reservation of <paramref name="request"/>; <see langword="null"/> (at once) when neither the
    /// caller nor any candidate has a budget. With a queued store, the reservation goes out with the limiter's call or at
    /// <see cref="SendQueued"/>.</summary>
    public ValueTask<BudgetHold?> ReserveAsync(ProxyRequest request, ProxyCaller caller, long estimate, CancellationToken cancellationToken)
    {
        var candidates = Candidates(request.Model, request.Selection);
        var providerBudgets = 0;
        foreach (var provider in candidates)
        {
            if (provider.Options.Budget.Amount is not null && caller.MayReach(provider.Name))
            {
                providerBudgets++;
            }
        }

        if (caller.Budget is null && providerBudgets == 0)
        {
            return ValueTask.FromResult<BudgetHold?>(null);
        }

        return ReserveCoreAsync(request, caller, estimate, candidates.ToArray(), providerBudgets, cancellationToken);
    }

    /// <summary>Sends a reservation a queued store still holds (see <see cref="IQueuedBudgetStore"/>).</summary>
    public void SendQueued() => (store as IQueuedBudgetStore)?.SendQueued();

    private async ValueTask<BudgetHold?> ReserveCoreAsync(
        ProxyRequest request, ProxyCaller caller, long estimate, ProviderClient[] candidates, int providerBudgets, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var providers = new ProviderBudget[providerBudgets];
        var checks = new ProxyBudgetCheck[providerBudgets];
        var worst = 0m;
        var reachable = 0;
        var count = 0;
        foreach (var provider in candidates)
        {
            if (!caller.MayReach(provider.Name))
            {
                continue;
            }

            reachable++;
            var cost = pricing.WorstCase(provider, request, estimate);
            worst = decimal.Max(worst, cost); // any candidate may answer
            if (provider.Options.Budget is { Amount: { } amount } budget)
            {
                var owned = BudgetPeriods.Budget("provider:" + provider.Name.ToLowerInvariant(), new ProxyBudgetLimit(amount, budget.Period), now);
                providers[count] = new ProviderBudget(provider.Name, owned);
                checks[count++] = new ProxyBudgetCheck(owned, cost);
            }
        }

        var callerBudget = caller.Budget is { } limit ? BudgetPeriods.Budget(caller.Partition, limit, now) : (ProxyBudget?)null;
        var decision = await store.ReserveAsync(
            new ProxyBudgetRequest { Caller = callerBudget, CallerCost = callerBudget is null ? 0 : worst, Providers = checks },
            cancellationToken).ConfigureAwait(false);

        if (decision.Unavailable)
        {
            return new BudgetHold(callerBudget, worst, decision, providers); // refused, and no provider is marked exhausted
        }

        for (var i = 0; i < count; i++)
        {
            var room = i < decision.ProvidersAvailable.Count && decision.ProvidersAvailable[i];
            _lastChecks[providers[i].Provider] = (providers[i].Budget.Key, !room);
        }

        // Exhausted when every reachable candidate has a budget and none of them has room.
        var exhausted = reachable > 0 && count == reachable;
        DateTimeOffset? reset = null;
        for (var i = 0; i < count && exhausted; i++)
        {
            exhausted = !(i < decision.ProvidersAvailable.Count && decision.ProvidersAvailable[i]);
            if (providers[i].Budget.ResetsAt is { } end && (reset is null || end < reset))
            {
                reset = end;
            }
        }

        var hold = new BudgetHold(callerBudget, worst, decision, providers) { ProvidersExhausted = exhausted, ProvidersResetAt = exhausted ? reset : null };
        if (hold.CallerAdmitted && !hold.IsAdmitted)
        {
            await ReleaseAsync(hold).ConfigureAwait(false); // refused for its providers: its reservation goes back
        }

        return hold;
    }

    /// <summary>
    /// Reserves the worst case of <paramref name="request"/> at <paramref name="provider"/> in that provider's budget as an
    /// attempt starts on it, when it has one (once per provider and request: only one attempt ever answers, and the others
    /// cost nothing). The error to end the attempt with when it does not fit (or the store cannot decide): the attempt must
    /// not be sent; <see langword="null"/> when it may go. Atomic in the store like a caller's reservation, so concurrent
    /// requests overspend a provider's budget by at most one worst case.
    /// </summary>
    /// <remarks>The provider is known only here, after admission, so this is a store call of its own: with Redis one more
    /// round trip, for an attempt on a provider with a budget only.</remarks>
    public async ValueTask<ProxyError?> ReserveAttemptAsync(BudgetHold hold, IProviderClient provider, ProxyRequest request, CancellationToken cancellationToken)
    {
        var index = hold.IndexOf(provider.Name);
        if (index < 0 || hold.IsSettled || hold.HasAttemptReservation(index))
        {
            return null;
        }

        var owned = hold.Providers[index];
        var cost = pricing.WorstCase(provider, request, request.Selection.PromptTokens + request.Selection.CompletionTokens);
        if (cost <= 0)
        {
            return null; // unpriced there: nothing to reserve (the real cost, if any, is charged at settlement)
        }

        // A queued store (Redis) sends the reservation only when told: start it, send it, then wait for the answer.
        var pending = store.ReserveAsync(new ProxyBudgetRequest { Caller = owned.Budget, CallerCost = cost }, cancellationToken);
        SendQueued();
        var decision = await pending.ConfigureAwait(false);
        if (decision.Unavailable)
        {
            return StoreUnavailable();
        }

        if (!decision.CallerAdmitted)
        {
            _lastChecks[owned.Provider] = (owned.Budget.Key, true);
            return AttemptRefusal(hold, provider.Name);
        }

        if (!hold.AddAttemptReservation(index, cost))
        {
            await store.SettleAsync(owned.Budget, cost, 0, CancellationToken.None).ConfigureAwait(false); // settled meanwhile
            SendQueued();
        }

        return null;
    }

    /// <summary>Replaces the hold's reservations with <paramref name="cost"/>: the caller's, and those its attempts made in
    /// providers' budgets, where <paramref name="provider"/> (the one that answered) is charged the cost and the others nothing.</summary>
    public async ValueTask SettleAsync(BudgetHold hold, string? provider, decimal cost)
    {
        if (!hold.TrySettle())
        {
            return;
        }

        if (hold.Caller is { } caller && hold.CallerAdmitted)
        {
            await store.SettleAsync(caller, hold.Reserved, cost, CancellationToken.None).ConfigureAwait(false);
        }

        var reservations = hold.TakeAttemptReservations();
        for (var i = 0; i < reservations.Length; i++)
        {
            var owned = hold.Providers[i];
            var answered = provider is not null && string.Equals(owned.Provider, provider, StringComparison.OrdinalIgnoreCase);
            var actual = answered ? decimal.Max(0, cost) : 0;
            if (reservations[i] > 0 || actual > 0)
            {
                await store.SettleAsync(owned.Budget, reservations[i], actual, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Gives a reservation back whole: the request was not forwarded.</summary>
    public async ValueTask ReleaseAsync(BudgetHold hold)
    {
        if (hold.IsSettled)
        {
            return;
        }

        await SettleAsync(hold, null, 0).ConfigureAwait(false);
        SendQueued();
    }

    /// <summary>Releases <paramref name="hold"/> when disposed unless it was settled: a request that ends by an exception
    /// must not keep its reservation for the rest of the period.</summary>
    public Releaser Scope(BudgetHold? hold) => new(this, hold);

    /// <summary>See <see cref="Scope"/>.</summary>
    internal readonly struct Releaser(ProxyBudgets budgets, BudgetHold? hold) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => hold is null || hold.IsSettled ? ValueTask.CompletedTask : budgets.ReleaseAsync(hold);
    }

    /// <summary>The 429 for a request its budgets refused: OpenAI's <c>insufficient_quota</c>, which the SDKs do not retry
    /// (<c>x-should-retry: false</c>), with the reset in the message and in <c>Retry-After</c>.</summary>
    public ProxyError Refusal(BudgetHold hold)
    {
        if (hold.StoreUnavailable)
        {
            return StoreUnavailable();
        }

        var (subject, reset) = hold.CallerAdmitted
            ? ("every provider that serves this model has spent its budget", hold.ProvidersResetAt)
            : ("this token has spent its budget", hold.Caller?.ResetsAt);
        return Quota(subject, reset);
    }

    /// <summary>The 503 for a request whose budgets the store could not check (a shared store that fails closed is
    /// unreachable): the gateway's trouble, not the caller's, shaped like the rate limiter's in the same case.</summary>
    private static ProxyError StoreUnavailable()
        => new(503, "server_error", "budget_unavailable", "The gateway cannot check budgets right now. Please try again shortly.")
        {
            RetryAfterSeconds = 1,
        };

    /// <summary>The error of an attempt whose provider's budget had no room for it when it was to start (the answer when it
    /// was the last candidate).</summary>
    private ProxyError AttemptRefusal(BudgetHold hold, string provider)
    {
        var index = hold.IndexOf(provider);
        return Quota("every provider that serves this model has spent its budget", index < 0 ? null : hold.Providers[index].Budget.ResetsAt);
    }

    private ProxyError Quota(string subject, DateTimeOffset? reset)
    {
        var message = reset is { } end
            ? $"You exceeded your current quota: {subject}. It resets at {end.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss'Z'}."
            : $"You exceeded your current quota: {subject}, and it does not reset.";
        return new ProxyError(429, InsufficientQuota, InsufficientQuota, message)
        {
            RetryAfterSeconds = reset is { } at ? RateLimitFormat.RetryAfterSeconds(at - time.GetUtcNow()) : null,
            ShouldRetry = false,
        };
    }

    private ReadOnlySpan<ProviderClient> Candidates(string model, SelectionContext selection)
        => selection.Provider is { } pinned
            ? (registry.Find(pinned) is { } found ? new ReadOnlySpan<ProviderClient>([found]) : [])
            : registry.Serving.Get(registry.All, model);
}
