namespace AiProxy.RateLimiting;

/// <summary>A provider that may serve a request, with its capacity limits (<c>Providers:{name}:RequestsPerMinute</c>, ...).</summary>
/// <param name="Provider">The provider's name.</param>
/// <param name="Limits">Its capacity; <see cref="ProxyLimits.None"/> for a provider that is never full.</param>
public readonly record struct ProxyProviderCapacity(string Provider, ProxyLimits Limits);
