namespace AiProxy.RateLimiting;

/// <summary>The state of one per-minute limit, as OpenAI's <c>x-ratelimit-limit-*</c>, <c>x-ratelimit-remaining-*</c>
/// and <c>x-ratelimit-reset-*</c> headers report it.</summary>
/// <param name="Limit">The limit per window.</param>
/// <param name="Remaining">What is left in the current window (after this request's own share).</param>
/// <param name="Reset">Time until the window ends and the limit is whole again; zero when no window is open.</param>
public readonly record struct ProxyRateLimitWindow(long Limit, long Remaining, TimeSpan Reset);
