namespace AiProxy.RateLimiting;

/// <summary>Why <see cref="IProxyRateLimiter"/> refused a request.</summary>
public enum ProxyRateLimitReason
{
    /// <summary>Not refused.</summary>
    None,

    /// <summary>The caller's <c>RequestsPerMinute</c>.</summary>
    Requests,

    /// <summary>The caller's <c>TokensPerMinute</c>.</summary>
    Tokens,

    /// <summary>The caller's <c>MaxConcurrentRequests</c>.</summary>
    ConcurrentRequests,

    /// <summary>Every candidate provider is at capacity.</summary>
    ProviderCapacity,
}
