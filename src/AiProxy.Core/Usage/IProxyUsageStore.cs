namespace AiProxy.Usage;

/// <summary>
/// The gateway's usage counters: requests and tokens per caller, provider and model, per UTC day. <c>GET /status</c> shows
/// today's. The default counts this instance's requests in memory; a scale-out package (such as <c>AiProxy.Redis</c>)
/// replaces it with counters shared by every instance. Counters carry token <i>names</i>, never keys.
/// </summary>
public interface IProxyUsageStore
{
    /// <summary>The counters of <paramref name="day"/> (UTC).</summary>
    /// <param name="day">The UTC day.</param>
    /// <param name="cancellationToken">Cancelled when the caller goes away.</param>
    /// <returns>The day's counters; empty when nothing was counted.</returns>
    ValueTask<ProxyDailyUsage> GetDailyUsageAsync(DateOnly day, CancellationToken cancellationToken);
}
