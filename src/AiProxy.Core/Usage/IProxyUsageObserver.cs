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
    /// <param name="cancellationToken">Cancelled when the host shuts down: once it has stopped waiting for the requests in
    /// flight (<c>IHostApplicationLifetime.ApplicationStopped</c>, after the graceful drain or its <c>ShutdownTimeout</c>),
    /// or when the container is disposed where there is no host. Not at the start of shutdown, so that a request finishing
    /// during the drain is still recorded.</param>
    ValueTask OnRequestCompletedAsync(ProxyUsageRecord record, CancellationToken cancellationToken);
}
