namespace AiProxy.RateLimiting;

/// <summary>
/// The in-memory state of one caller or provider: its two windows and its requests in flight. Every member is used
/// under <see cref="Gate"/>, so a request is checked and charged against all three limits atomically.
/// </summary>
internal sealed class LimitPartition(TimeProvider time)
{
    private static readonly TimeSpan ConcurrencyRetryAfter = TimeSpan.FromSeconds(1);

    public Lock Gate { get; } = new();

    public WindowRateLimiter? Requests { get; private set; }

    public WindowRateLimiter? Tokens { get; private set; }

    /// <summary>Counted whether or not a concurrency limit is set, so that a reload that adds one starts right.</summary>
    public int InFlight { get; set; }

    public int? MaxConcurrentRequests { get; private set; }

    /// <summary>Removed from its dictionary by the idle sweep: whoever still holds it must look the key up again.</summary>
    public bool Retired { get; set; }

    /// <summary>Takes the current limits; windows keep their counts when only the number changes.</summary>
    public void Apply(ProxyLimits limits)
    {
        Requests = Update(Requests, limits.RequestsPerMinute);
        Tokens = Update(Tokens, limits.TokensPerMinute);
        MaxConcurrentRequests = limits.MaxConcurrentRequests;
    }

    /// <summary>Whether one more request of <paramref name="estimatedTokens"/> fits every limit; if not, which one is full and for how long.</summary>
    public bool Admits(long estimatedTokens, out ProxyRateLimitReason reason, out TimeSpan retryAfter)
    {
        if (Requests is { } requests && !requests.CanTake(1))
        {
            reason = ProxyRateLimitReason.Requests;
            retryAfter = requests.GetWindow().Reset;
            return false;
        }

        if (Tokens is { } tokens && !tokens.CanTake(estimatedTokens))
        {
            reason = ProxyRateLimitReason.Tokens;
            var reset = tokens.GetWindow().Reset;

            // A request larger than the whole limit never fits: tell the client to wait a full window rather than hammer.
            retryAfter = reset > TimeSpan.Zero ? reset : tokens.Window;
            return false;
        }

        if (MaxConcurrentRequests is { } max && InFlight >= max)
        {
            reason = ProxyRateLimitReason.ConcurrentRequests;
            retryAfter = ConcurrencyRetryAfter;
            return false;
        }

        reason = ProxyRateLimitReason.None;
        retryAfter = TimeSpan.Zero;
        return true;
    }

    /// <summary>Charges one request: its request, its estimated tokens, its slot. Call after <see cref="Admits"/>.</summary>
    public Charge Take(long estimatedTokens)
    {
        long requestWindow = 0, tokenWindow = 0;
        ProxyRateLimitWindow? requests = null, tokens = null;
        if (Requests is { } r)
        {
            if (!r.TryTake(1, out requestWindow, out var window))
            {
                requestWindow = r.Add(1);
                window = r.GetWindow();
            }

            requests = window;
        }

        if (Tokens is { } t)
        {
            if (!t.TryTake(estimatedTokens, out tokenWindow, out var window))
            {
                tokenWindow = t.Add(estimatedTokens);
                window = t.GetWindow();
            }

            tokens = window;
        }

        InFlight++;
        return new Charge(requestWindow, tokenWindow, requests, tokens);
    }

    /// <summary>Nothing in flight and no window open: the partition holds nothing a new one would not.</summary>
    public bool IsIdle => InFlight == 0 && (Requests?.IsIdle ?? true) && (Tokens?.IsIdle ?? true);

    private WindowRateLimiter? Update(WindowRateLimiter? limiter, int? limit)
    {
        if (limit is not { } value)
        {
            return null;
        }

        if (limiter is null)
        {
            return new WindowRateLimiter(value, InMemoryProxyRateLimiter.Window, time);
        }

        if (limiter.Limit != value)
        {
            limiter.Limit = value;
        }

        return limiter;
    }

    /// <summary>What one request was charged, to settle and report it.</summary>
    public readonly record struct Charge(long RequestWindow, long TokenWindow, ProxyRateLimitWindow? Requests, ProxyRateLimitWindow? Tokens);
}
