namespace AiProxy.RateLimiting;

/// <summary>
/// A base for the lease of an admitted request, for a custom <see cref="IProxyRateLimiter"/>: acquired, with no refusal
/// reason and no retry delay, and carrying the caller's windows as the limiter counted them when it admitted the request
/// (the numbers of the <c>x-ratelimit-*</c> headers). A subclass implements what its limiter holds: the providers'
/// capacity, the charge of each attempt, settling and release.
/// </summary>
public abstract class AcquiredProxyRateLimitLease : ProxyRateLimitLease
{
    /// <summary>Creates the lease of an admitted request.</summary>
    /// <param name="requests">The caller's requests-per-minute window once this request was counted, or
    /// <see langword="null"/> when the caller has no such limit.</param>
    /// <param name="tokens">The caller's tokens-per-minute window once this request's estimate was reserved, or
    /// <see langword="null"/> when the caller has no such limit.</param>
    protected AcquiredProxyRateLimitLease(ProxyRateLimitWindow? requests, ProxyRateLimitWindow? tokens)
    {
        Requests = requests;
        Tokens = tokens;
    }

    /// <summary>Always <see langword="true"/>: the request may go ahead.</summary>
    public sealed override bool IsAcquired => true;

    /// <summary>Always <see cref="ProxyRateLimitReason.None"/>.</summary>
    public sealed override ProxyRateLimitReason Reason => ProxyRateLimitReason.None;

    /// <summary>Always <see cref="TimeSpan.Zero"/>.</summary>
    public sealed override TimeSpan RetryAfter => TimeSpan.Zero;

    /// <inheritdoc/>
    public sealed override ProxyRateLimitWindow? Requests { get; }

    /// <inheritdoc/>
    public sealed override ProxyRateLimitWindow? Tokens { get; }
}
