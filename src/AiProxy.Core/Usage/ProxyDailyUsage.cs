namespace AiProxy.Usage;

/// <summary>One UTC day of usage counters, as <see cref="IProxyUsageStore"/> returns them.</summary>
public sealed class ProxyDailyUsage
{
    /// <summary>The UTC day counted.</summary>
    public required DateOnly Day { get; init; }

    /// <summary><see langword="true"/> when the counters cover every gateway instance (a shared store answered);
    /// <see langword="false"/> when they are this instance's own.</summary>
    public bool IsShared { get; init; }

    /// <summary>One counter per caller, provider and model, sorted by caller, provider, model.</summary>
    public IReadOnlyList<ProxyUsageCounter> Counters { get; init; } = [];
}
