namespace AiProxy.RateLimiting;

/// <summary>What <see cref="IProxyRateLimiter.AcquireAsync"/> decides on: one gateway request.</summary>
public sealed class ProxyRateLimitRequest
{
    /// <summary>The caller's partition: <c>token:{name}</c> for a proxy token, <c>user:{id}</c> for a user the host app
    /// authenticated, <c>anonymous</c> otherwise. Never a key.</summary>
    public required string Partition { get; init; }

    /// <summary>The caller's limits (its own, or <c>DefaultLimits</c>).</summary>
    public ProxyLimits Limits { get; init; }

    /// <summary>Tokens reserved against <see cref="ProxyLimits.TokensPerMinute"/> until the request settles: a quarter of the
    /// body's bytes plus <c>max_tokens</c> or <c>max_completion_tokens</c>, times <c>n</c>.</summary>
    public long EstimatedTokens { get; init; }

    /// <summary>The providers that may serve the request (enabled and serving its model, or the pinned one). Empty when no
    /// candidate has capacity limits: then providers are not checked at all.</summary>
    public IReadOnlyList<ProxyProviderCapacity> Providers { get; init; } = [];

    /// <summary>The position of <paramref name="provider"/> in <see cref="Providers"/>, or -1.</summary>
    public int IndexOfProvider(string provider)
    {
        for (var i = 0; i < Providers.Count; i++)
        {
            if (string.Equals(Providers[i].Provider, provider, StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }

        return -1;
    }
}
