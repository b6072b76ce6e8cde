using AiProxy.Health;
using AiProxy.Mapping;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AiProxy.Providers;

/// <summary>
/// The current set of providers. Rebuilt on configuration change, provider by provider: a provider whose
/// options did not change keeps its instance, counters and connections; a replaced one is retired and its
/// handler disposed once idle. An invalid reload never reaches here (<see cref="Configuration.LiveOptions"/> keeps the last good one).
/// </summary>
internal sealed partial class ProviderRegistry : IDisposable
{
    private readonly IModelMappingService _mappings;
    private readonly ILogger<ProviderRegistry> _logger;
    private readonly TimeProvider _time;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly IDisposable? _subscription;
    private readonly object _lock = new();
    private readonly ProviderHealthUpdater _healthUpdater;
    private volatile ProviderClient[] _providers = [];

    public ProviderRegistry(IOptionsMonitor<OpenAiProxyOptions> options, IModelMappingService mappings, ILogger<ProviderRegistry> logger, TimeProvider? time = null)
    {
        _mappings = mappings;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _options = options;
        _healthUpdater = new ProviderHealthUpdater(_time, () => _options.CurrentValue.Health);
        Serving = new ServingProviders(mappings);
        Update(options.CurrentValue);
        _subscription = options.OnChange(o => Update(o));
    }

    /// <summary>All configured providers, enabled or not, sorted by name.</summary>
    public ProviderClient[] All => _providers;

    /// <summary>Which enabled providers serve each model, in failover order, cached per model.</summary>
    public ServingProviders Serving { get; }

    public ProviderClient? Find(string name)
    {
        foreach (var provider in _providers)
        {
            if (string.Equals(provider.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return provider;
            }
        }

        return null;
    }

    /// <summary>
    /// Raised when this instance's own traffic or probes put a provider in cooldown (or extend it), with the provider's name,
    /// the cooldown's end and the failure label: how a scale-out package shares the decision with other instances. Handlers
    /// run on the request path: they must not block. The providers' <see cref="ProviderHealthUpdater"/> raises it.
    /// </summary>
    public event Action<string, DateTimeOffset, string>? CooldownStarted
    {
        add => _healthUpdater.CooldownStarted += value;
        remove => _healthUpdater.CooldownStarted -= value;
    }

    /// <summary>Applies a cooldown another instance decided (see <see cref="ProviderHealthUpdater.ApplyRemoteCooldown"/>).</summary>
    /// <returns><see langword="true"/> when a provider of that name exists and its cooldown started or got longer.</returns>
    public bool ApplyCooldown(string provider, DateTimeOffset until, string label)
        => Find(provider) is { } client && _healthUpdater.ApplyRemoteCooldown(client.Health, until, label);

    private void Update(OpenAiProxyOptions options)
    {
        lock (_lock)
        {
            var old = _providers;
            var next = new List<ProviderClient>(options.Providers.Count);
            foreach (var (name, providerOptions) in options.Providers)
            {
                var existing = Array.Find(old, p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
                if (existing is not null && ProviderClient.SameOptions(existing.Options, providerOptions))
                {
                    // Kept with its state and connections; limits and reservations are not part of that comparison, so
                    // they come from the new options.
                    existing.Refresh(providerOptions);
                    next.Add(existing);
                }
                else
                {
                    next.Add(new ProviderClient(name, providerOptions, _mappings, health: new ProviderHealth(_healthUpdater, name)));
                }
            }

            var byFailover = next.ToArray();
            Array.Sort(byFailover, static (a, b) =>
            {
                var byPriority = a.Priority.CompareTo(b.Priority);
                return byPriority != 0 ? byPriority : string.Compare(a.Name, b.Name, StringComparison.OrdinalIgnoreCase);
            });
            for (var i = 0; i < byFailover.Length; i++)
            {
                byFailover[i].FailoverRank = i;
            }

            next.Sort(static (a, b) => string.Compare(a.Name, b.Name, StringComparison.OrdinalIgnoreCase));
            _providers = next.ToArray();
            foreach (var retired in old)
            {
                if (!next.Contains(retired))
                {
                    // Requests that chose it before this reload still hold it: they keep it alive, or move to the successor.
                    retired.Retire(next.Find(p => string.Equals(p.Name, retired.Name, StringComparison.OrdinalIgnoreCase)));
                }
            }

            if (old.Length > 0)
            {
                LogReloaded(_logger, next.Count);
            }
        }
    }

    public void Dispose()
    {
        _subscription?.Dispose();
        foreach (var provider in _providers)
        {
            provider.Dispose();
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Provider configuration reloaded: {Count} providers.")]
    private static partial void LogReloaded(ILogger logger, int count);
}
