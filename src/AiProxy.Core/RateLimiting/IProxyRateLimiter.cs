namespace AiProxy.RateLimiting;

/// <summary>
/// The gateway's limits: the caller's requests and tokens per minute and concurrent requests, and the capacity of the
/// providers that may serve the request. The gateway makes <b>one</b> call per request, before it forwards it, and holds
/// the returned lease until the response is complete. The default implementation keeps its state in memory; replace it
/// (register your own before <c>AddOpenAiProxy</c>, or after it with <c>Replace</c>) to share limits between instances.
/// </summary>
/// <remarks>
/// The call must be atomic for the caller's limits: either all three admit the request and are charged (one request, the
/// estimated tokens, one concurrent slot), or nothing is charged and the lease says why. Provider capacity is checked in the
/// same call and returned as availability; each provider an attempt is then sent to is charged when the attempt starts,
/// through <see cref="ProxyRateLimitLease.OnProviderSelected"/>, and usage is settled through <see cref="ProxyRateLimitLease.SettleAsync"/>.
/// </remarks>
public interface IProxyRateLimiter
{
    /// <summary>Checks and charges the caller's limits and checks the candidate providers' capacity.</summary>
    /// <param name="request">The caller, its limits, the token estimate and the candidate providers.</param>
    /// <param name="cancellationToken">Cancelled when the client goes away.</param>
    /// <returns>A lease: acquired, or refused with a reason and a retry delay. Always dispose it.</returns>
    ValueTask<ProxyRateLimitLease> AcquireAsync(ProxyRateLimitRequest request, CancellationToken cancellationToken);
}
