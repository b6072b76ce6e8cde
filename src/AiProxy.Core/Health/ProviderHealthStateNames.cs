namespace AiProxy.Health;

/// <summary>
/// The names a provider's state goes by wherever it is shown: <c>/status</c>, the health check's data and the
/// <c>aiproxy.provider.state</c> metric. One list, so a dashboard and an alert read the same words.
/// </summary>
public static class ProviderHealthStateNames
{
    /// <summary><see cref="ProviderHealthState.Healthy"/>: takes traffic.</summary>
    public const string Healthy = "healthy";

    /// <summary><see cref="ProviderHealthState.Cooldown"/>: skipped until its cooldown ends.</summary>
    public const string Cooldown = "cooldown";

    /// <summary><see cref="ProviderHealthState.HalfOpen"/>: its next request is a trial.</summary>
    public const string HalfOpen = "half_open";

    /// <summary>A provider configured with <c>Enabled: false</c>, whatever its health.</summary>
    public const string Disabled = "disabled";

    /// <summary>Every name, in the order the state metric reports them.</summary>
    internal static readonly string[] All = [Healthy, HalfOpen, Cooldown, Disabled];

    /// <summary>The name of <paramref name="state"/>, or <see cref="Disabled"/> when the provider is not
    /// <paramref name="enabled"/>.</summary>
    /// <param name="state">The provider's health state.</param>
    /// <param name="enabled">Whether the provider takes traffic at all.</param>
    public static string Get(ProviderHealthState state, bool enabled = true) => !enabled ? Disabled : state switch
    {
        ProviderHealthState.Cooldown => Cooldown,
        ProviderHealthState.HalfOpen => HalfOpen,
        _ => Healthy,
    };
}
