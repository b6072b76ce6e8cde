namespace AiProxy.Health;

/// <summary>What real traffic says of a provider at the moment one of its attempts failed: the passive policy's input.</summary>
/// <param name="State">The provider's state when the attempt failed (a failed half-open trial cools it down again).</param>
/// <param name="ConsecutiveFailures">Failures since the last success, this one included.</param>
/// <param name="RecentRequests">Attempts finished in the last 60 seconds, this one included.</param>
/// <param name="RecentFailures">Of those, the failed ones.</param>
/// <param name="RetryAfter">How long the provider asked to be left alone, if it did.</param>
internal readonly record struct PassiveHealthSample(
    ProviderHealthState State, int ConsecutiveFailures, long RecentRequests, long RecentFailures, TimeSpan? RetryAfter);
