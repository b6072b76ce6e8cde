namespace AiProxy.RateLimiting;

/// <summary>
/// The outcome of <see cref="IProxyRateLimiter.AcquireAsync"/> for one request. When acquired, it holds the caller's
/// concurrent slot and token reservation until it is settled and disposed; when refused, it says why and when to retry.
/// Either way it carries the numbers for the <c>x-ratelimit-*</c> response headers.
/// </summary>
public abstract class ProxyRateLimitLease : IAsyncDisposable
{
    /// <summary>The lease of a request nothing limits: acquired, holding nothing, with no <c>x-ratelimit-*</c> numbers.
    /// One shared instance: a limiter returns it when neither the caller nor any candidate has limits.</summary>
    public static ProxyRateLimitLease Unlimited => UnlimitedLease.Instance;

    /// <summary>A refusal: not acquired, holding nothing.</summary>
    /// <param name="reason">Which limit refused the request (<see cref="ProxyRateLimitReason.Unavailable"/> when the
    /// limiter's store is unreachable and it fails closed: the client then gets 503 rather than 429).</param>
    /// <param name="retryAfter">When the client may try again (<c>Retry-After</c>).</param>
    /// <param name="requests">The caller's request window, for the <c>x-ratelimit-*</c> headers, when it has one.</param>
    /// <param name="tokens">The caller's token window, likewise.</param>
    public static ProxyRateLimitLease Rejected(
        ProxyRateLimitReason reason, TimeSpan retryAfter, ProxyRateLimitWindow? requests = null, ProxyRateLimitWindow? tokens = null)
        => new RejectedLease(reason, retryAfter, requests, tokens);

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

    /// <summary>
    /// An attempt of the request is starting at <paramref name="provider"/>: count it against that provider's capacity
    /// (one request, the estimated tokens, one concurrent slot). Called once per attempt, when it starts, with that
    /// attempt's provider: a fallback calls it for the next provider, a retry for the same one again. Each call ends the
    /// previous attempt, so the previous attempt's concurrent slot is given back; its request stays counted (it was
    /// sent), and its token reservation is refunded when the lease is settled with the usage (it did not answer).
    /// A provider that is not among the request's candidates, or has no capacity limit, is not charged.
    /// </summary>
    /// <param name="provider">The provider the attempt is sent to.</param>
    public abstract void OnProviderSelected(string provider);

    /// <summary>
    /// The request is over: replaces the token reservations with what it really used and gives back the last attempt's
    /// concurrent slot. The provider that answered gets the tokens it used in place of its estimate (a provider that
    /// answered without <see cref="OnProviderSelected"/> having been called for it is charged the request and the tokens
    /// now); every other attempt's reservation is refunded. Called at most once, before disposal.
    /// </summary>
    /// <param name="provider">The provider that answered, or <see langword="null"/> when none did.</param>
    /// <param name="actualTokens">Tokens used as reported (or estimated from a stream); 0 when the request failed before
    /// any provider did work; <see langword="null"/> when unknown (every reservation stands).</param>
    /// <param name="cancellationToken">Cancelled when the host shuts down.</param>
    public abstract ValueTask SettleAsync(string? provider, long? actualTokens, CancellationToken cancellationToken);

    /// <summary>Releases every concurrent slot the lease still holds (the caller's, and the last attempt's provider's
    /// when the lease was not settled).</summary>
    public abstract ValueTask DisposeAsync();
}
