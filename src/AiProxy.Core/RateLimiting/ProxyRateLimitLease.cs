namespace AiProxy.RateLimiting;

/// <summary>
/// The outcome of <see cref="IProxyRateLimiter.AcquireAsync"/> for one request. When acquired, it holds the caller's
/// concurrent slot and token reservation until it is settled and disposed; when refused, it says why and when to retry.
/// Either way it carries the numbers for the <c>x-ratelimit-*</c> response headers.
/// </summary>
public abstract class ProxyRateLimitLease : IAsyncDisposable
{
    /// <summary>The request may go ahead.</summary>
    public abstract bool IsAcquired { get; }

    /// <summary>Why the request was refused; <see cref="ProxyRateLimitReason.None"/> when acquired.</summary>
    public abstract ProxyRateLimitReason Reason { get; }

    /// <summary>When refused: how long until a retry may succeed (the <c>Retry-After</c> header).</summary>
    public abstract TimeSpan RetryAfter { get; }

    /// <summary>The caller's requests-per-minute window, or <see langword="null"/> when it has no such limit.</summary>
    public abstract ProxyRateLimitWindow? Requests { get; }

    /// <summary>The caller's tokens-per-minute window, or <see langword="null"/> when it has no such limit.</summary>
    public abstract ProxyRateLimitWindow? Tokens { get; }

    /// <summary>Whether <paramref name="provider"/> had capacity when the lease was acquired (<see langword="true"/> for a
    /// provider that was not among the request's candidates). Selection skips providers without capacity.</summary>
    /// <param name="provider">A provider name.</param>
    public abstract bool HasProviderCapacity(string provider);

    /// <summary>Selection chose <paramref name="provider"/> to try first: count the request against its capacity
    /// (one request, the estimated tokens, one concurrent slot until the lease is disposed). Called at most once.</summary>
    /// <param name="provider">A provider name.</param>
    public abstract void OnProviderSelected(string provider);

    /// <summary>Replaces the token reservation with what the request really used. Called at most once, before disposal.</summary>
    /// <param name="provider">The provider that answered, or <see langword="null"/> when none did.</param>
    /// <param name="actualTokens">Tokens used as reported (or estimated from a stream); 0 when the request failed before
    /// any provider did work; <see langword="null"/> when unknown (the reservation stands).</param>
    /// <param name="cancellationToken">Cancelled when the host shuts down.</param>
    public abstract ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken);

    /// <summary>Releases the concurrent slots the lease holds.</summary>
    public abstract ValueTask DisposeAsync();
}
