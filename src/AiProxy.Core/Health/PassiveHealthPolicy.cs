namespace AiProxy.Health;

/// <summary>
/// Passive health: computes, from a provider's real traffic, whether a failed attempt puts it in cooldown and for how
/// long. It decides only; <see cref="ProviderHealthUpdater"/> applies the verdict.
/// </summary>
internal static class PassiveHealthPolicy
{
    /// <summary>The cooldown a failure earns; <see cref="TimeSpan.Zero"/> for none.</summary>
    /// <remarks>A provider's own <c>Retry-After</c> wins (capped at <see cref="HealthOptions.MaxRetryAfter"/>); otherwise a
    /// failed half-open trial, <see cref="HealthOptions.ConsecutiveFailures"/> failures in a row, or a failure rate of at
    /// least <see cref="HealthOptions.FailureRateThreshold"/> over <see cref="HealthOptions.MinimumRequests"/> or more recent
    /// attempts earn <see cref="HealthOptions.CooldownPeriod"/>.</remarks>
    public static TimeSpan CooldownAfterFailure(in PassiveHealthSample sample, HealthOptions options)
    {
        if (sample.RetryAfter is { } wait && wait > TimeSpan.Zero)
        {
            return wait <= options.MaxRetryAfter ? wait : options.MaxRetryAfter;
        }

        var failing = sample.State == ProviderHealthState.HalfOpen
                      || sample.ConsecutiveFailures >= options.ConsecutiveFailures
                      || (sample.RecentRequests >= options.MinimumRequests
                          && (double)sample.RecentFailures / sample.RecentRequests >= options.FailureRateThreshold);
        return failing ? options.CooldownPeriod : TimeSpan.Zero;
    }
}
