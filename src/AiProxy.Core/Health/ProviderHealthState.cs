namespace AiProxy.Health;

/// <summary>Where a provider stands in the gateway's circuit breaker.</summary>
public enum ProviderHealthState
{
    /// <summary>Takes traffic.</summary>
    Healthy,

    /// <summary>Failed too often (or asked to be left alone with <c>Retry-After</c>); skipped until its cooldown ends.</summary>
    Cooldown,

    /// <summary>Its cooldown ended: one trial request decides whether it is healthy again.</summary>
    HalfOpen,
}
