namespace AiProxy.Usage;

/// <summary>
/// Receives one record per request the gateway forwarded, after the response has been completed to the client:
/// for billing, audit or quotas. Register with <c>AddUsageObserver&lt;T&gt;()</c> on the builder <c>AddOpenAiProxy</c>
/// returns. Exceptions are logged and never reach the client.
/// </summary>
public interface IProxyUsageObserver
{
    /// <summary>Called once per forwarded request.</summary>
    /// <param name="record">What happened and what it cost.</param>
    /// <param name="cancellationToken">Cancelled when the host shuts down.</param>
    ValueTask OnRequestCompletedAsync(ProxyUsageRecord record, CancellationToken cancellationToken);
}
