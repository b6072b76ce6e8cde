namespace AiProxy.Pipeline;

/// <summary>A request the gateway's own limits refused (<see cref="IProxyExchangeObserver.OnRateLimited"/>).</summary>
/// <param name="Caller">The caller's name (a token's name, never its key).</param>
/// <param name="Limit">Which limit refused it, as metrics and traces name it: <c>requests</c>, <c>tokens</c>,
/// <c>concurrent_requests</c>, <c>provider_capacity</c>, <c>unavailable</c> (a rate limiter's
/// <see cref="RateLimiting.ProxyRateLimitReason"/>) or <c>budget</c> (a spent cost budget).</param>
internal readonly record struct RateLimitRefusal(string Caller, string Limit);
