namespace AiProxy.Usage;

/// <summary>What one caller used of one provider and model in a day.</summary>
/// <param name="Caller">The token's name (or the host-authenticated user, or <c>anonymous</c>); never a key.</param>
/// <param name="Provider">The provider that answered last, or <c>-</c> when none was tried.</param>
/// <param name="Model">The requested model, or <c>_other</c> for a name no provider or mapping knows, or <c>-</c> for none.</param>
/// <param name="Requests">Forwarded requests, whatever their outcome.</param>
/// <param name="InputTokens">Prompt tokens, as reported (or estimated for a stream that reported none).</param>
/// <param name="OutputTokens">Completion tokens.</param>
/// <param name="TotalTokens">All tokens.</param>
public sealed record ProxyUsageCounter(
    string Caller, string Provider, string Model, long Requests, long InputTokens, long OutputTokens, long TotalTokens)
{
    /// <summary>The order of <see cref="ProxyDailyUsage.Counters"/>: by caller, then provider, then model (ordinal), so
    /// that every store lists a day the same way.</summary>
    public static IComparer<ProxyUsageCounter> Order => UsageCounterOrder.Instance;

    /// <summary>What the requests cost in USD, by the configured prices (0 when nothing is priced).</summary>
    public decimal Cost { get; init; }

    /// <summary>Requests answered whose model had no known price: <see cref="Cost"/> leaves them out.</summary>
    public long UnpricedRequests { get; init; }
}
