namespace AiProxy.Health;

/// <summary>A provider's numbers at one instant: what the selection strategies, <c>/status</c> and metrics read.</summary>
/// <param name="InFlight">Requests in flight to the provider now (until their responses are fully relayed).</param>
/// <param name="RecentRequests">Attempts finished in the last 60 seconds.</param>
/// <param name="RecentFailures">Of those, the failed ones.</param>
/// <param name="TotalRequests">Attempts finished since the provider was configured.</param>
/// <param name="TotalFailures">Of those, the failed ones.</param>
/// <param name="LatencyEwma">Exponentially weighted average time to response headers; <see langword="null"/> until measured.</param>
/// <param name="State">Circuit-breaker state.</param>
/// <param name="CooldownUntil">When the current cooldown ends, if cooling down.</param>
/// <param name="LastFailure">The class of the last failure (<c>timeout</c>, <c>connection</c>, <c>503</c>...), if any.</param>
/// <param name="LastFailureAt">When the last failure happened.</param>
public readonly record struct ProviderSnapshot(
    int InFlight,
    long RecentRequests,
    long RecentFailures,
    long TotalRequests,
    long TotalFailures,
    TimeSpan? LatencyEwma,
    ProviderHealthState State,
    DateTimeOffset? CooldownUntil,
    string? LastFailure,
    DateTimeOffset? LastFailureAt)
{
    /// <summary>Share of recent attempts that succeeded; 1 when there were none.</summary>
    public double SuccessRate => RecentRequests == 0 ? 1.0 : 1.0 - ((double)RecentFailures / RecentRequests);

    /// <summary>Whether the provider has any latency measurement yet.</summary>
    public bool IsMeasured => LatencyEwma is not null;
}
