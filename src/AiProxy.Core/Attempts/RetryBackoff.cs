namespace AiProxy.Attempts;

/// <summary>
/// The wait before a provider is tried again within one request (DESIGN section 5): exponential (250 ms x 2^n, n the
/// number of earlier repeats, at most 10 s) with jitter in [50%, 100%], at least the provider's <c>Retry-After</c>, never
/// past what is left of the request's budget. Switching provider never waits. The randomness is injected, as the
/// selection strategies' is (<see cref="Selection.SelectionRandom"/>), so tests can seed it.
/// </summary>
internal sealed class RetryBackoff(Random random)
{
    internal static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(250);
    internal static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(10);

    public RetryBackoff()
        : this(Random.Shared)
    {
    }

    /// <param name="earlierRepeats">How many repeats of this request came before this one.</param>
    /// <param name="retryAfter">The provider's <c>Retry-After</c> from its last failure, if any.</param>
    /// <param name="remaining">What is left of the request's budget.</param>
    public TimeSpan Delay(int earlierRepeats, TimeSpan? retryAfter, TimeSpan remaining)
    {
        var exponent = Math.Min(earlierRepeats, 10);
        var backoff = TimeSpan.FromTicks((long)(BaseDelay.Ticks * (1L << exponent) * (0.5 + (random.NextDouble() * 0.5))));
        backoff = Min(backoff, MaxDelay);
        if (retryAfter is { } wait && wait > backoff)
        {
            backoff = wait;
        }

        return Min(backoff, remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a <= b ? a : b;
}
