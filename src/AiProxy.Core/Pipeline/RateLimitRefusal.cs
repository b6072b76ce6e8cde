using AiProxy.RateLimiting;

namespace AiProxy.Pipeline;

/// <summary>A request the gateway's own rate limits refused (<see cref="IProxyExchangeObserver.OnRateLimited"/>).</summary>
/// <param name="Caller">The caller's name (a token's name, never its key).</param>
/// <param name="Reason">Which limit refused it.</param>
internal readonly record struct RateLimitRefusal(string Caller, ProxyRateLimitReason Reason);
