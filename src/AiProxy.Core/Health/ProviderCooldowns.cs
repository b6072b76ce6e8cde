using AiProxy.Providers;

namespace AiProxy.Health;

/// <summary>
/// The shared-state hooks for provider cooldowns, for a package that shares them between gateway instances (as
/// <c>AiProxy.Redis</c> does): hear when this instance's own traffic or probes put a provider in cooldown, and apply a
/// cooldown another instance decided. Resolve it from the container (<c>AddOpenAiProxy</c> registers it).
/// </summary>
public sealed class ProviderCooldowns
{
    private readonly ProviderRegistry _registry;

    internal ProviderCooldowns(ProviderRegistry registry) => _registry = registry;

    /// <summary>
    /// Raised when this instance put a provider in cooldown, or extended it, with the provider's name, the cooldown's end
    /// and the failure's label (<c>503</c>, <c>timeout</c>...). Handlers run on the request path: they must not block.
    /// </summary>
    public event Action<string, DateTimeOffset, string>? Started
    {
        add => _registry.CooldownStarted += value;
        remove => _registry.CooldownStarted -= value;
    }

    /// <summary>The names of the configured providers now (enabled or not), for reading their shared cooldowns.</summary>
    public IReadOnlyList<string> ProviderNames
    {
        get
        {
            var providers = _registry.All;
            var names = new string[providers.Length];
            for (var i = 0; i < providers.Length; i++)
            {
                names[i] = providers[i].Name;
            }

            return names;
        }
    }

    /// <summary>Applies a cooldown another instance decided, unless this instance's own cooldown of the provider ends later.</summary>
    /// <param name="provider">The provider's name (any letter case).</param>
    /// <param name="until">When the cooldown ends.</param>
    /// <param name="label">The failure that caused it, as the other instance labelled it.</param>
    /// <returns><see langword="true"/> when a provider of that name exists and its cooldown started or got longer.</returns>
    public bool Apply(string provider, DateTimeOffset until, string label) => _registry.ApplyCooldown(provider, until, label);
}
