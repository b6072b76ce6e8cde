namespace AiProxy.Budgets;

/// <summary>
/// Where budget spend is kept. The default keeps it in memory, per process, lost on restart; <c>AddRedis</c> shares it
/// between every instance (decided in the same script call as the rate limits); replace it (register your own before
/// <c>AddOpenAiProxy</c>, or after with <c>Replace</c>) to keep spend in your own database.
/// </summary>
/// <remarks>
/// <see cref="ReserveAsync"/> must be atomic for the caller's budget: the check <c>spent + reserved + cost &lt;= amount</c>
/// and the reservation happen together, so concurrent requests never overspend by more than one request's worst case
/// (what its real cost may exceed its reservation by).
/// </remarks>
public interface IProxyBudgetStore
{
    /// <summary>Checks the caller's budget and reserves the request's worst-case cost in it when it fits; checks the
    /// candidate providers' budgets. Also called as an attempt starts on a provider with a budget, with that budget as
    /// <see cref="ProxyBudgetRequest.Caller"/> and no providers: the same atomic check-and-reserve.</summary>
    /// <param name="request">The budgets and costs.</param>
    /// <param name="cancellationToken">Cancelled when the client goes away.</param>
    ValueTask<ProxyBudgetDecision> ReserveAsync(ProxyBudgetRequest request, CancellationToken cancellationToken);

    /// <summary>Replaces a reservation in <paramref name="budget"/> with the real cost: subtracts <paramref name="reserved"/>
    /// from what is reserved and adds <paramref name="actual"/> to what is spent. A provider's budget is settled with what
    /// the request's attempt reserved there (see <see cref="ReserveAsync"/>), or nothing.</summary>
    /// <param name="budget">The budget (its key names the period the reservation was made in).</param>
    /// <param name="reserved">USD this request reserved in it, or 0.</param>
    /// <param name="actual">USD the request really cost there.</param>
    /// <param name="cancellationToken">Cancelled when the host shuts down.</param>
    ValueTask SettleAsync(ProxyBudget budget, decimal reserved, decimal actual, CancellationToken cancellationToken);

    /// <summary>What is spent and reserved in the budget named <paramref name="key"/> (nothing for a key never used).</summary>
    /// <param name="key">A budget's <see cref="ProxyBudget.Key"/>.</param>
    /// <param name="cancellationToken">Cancelled when the client goes away.</param>
    ValueTask<ProxyBudgetSpend> GetSpendAsync(string key, CancellationToken cancellationToken);
}
