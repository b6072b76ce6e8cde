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

    /// <summary>The limiter could not decide: the store that shares limits between instances is unreachable and the limiter
    /// is set to fail closed. The gateway answers 503 rather than 429.</summary>
    Unavailable,
}
