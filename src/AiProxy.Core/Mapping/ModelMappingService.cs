using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using AiProxy.Forwarding;
using Microsoft.Extensions.Options;

namespace AiProxy.Mapping;

/// <summary>
/// Thread-safe mapping table. Entries carry the target name already JSON-encoded, so the request path
/// splices it into the body without encoding per request.
/// </summary>
internal sealed class ModelMappingService : IModelMappingService, IDisposable
{
    private readonly ConcurrentDictionary<MappingKey, MappingEntry> _entries = new(MappingKey.Comparer);
    private readonly object _reloadLock = new();
    private readonly IDisposable? _subscription;

    public ModelMappingService(IOptionsMonitor<OpenAiProxyOptions> options)
    {
        Seed(options.CurrentValue);
        _subscription = options.OnChange(Seed);
    }

    public void SetProviderMapping(string provider, string requestedModel, string providerModel)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        ArgumentException.ThrowIfNullOrWhiteSpace(requestedModel);
        ArgumentException.ThrowIfNullOrWhiteSpace(providerModel);
        _entries[new MappingKey(provider, requestedModel)] = new MappingEntry(provider, requestedModel, providerModel, fromConfiguration: false);
    }

    public bool RemoveProviderMapping(string provider, string requestedModel)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(requestedModel);
        return _entries.TryRemove(new MappingKey(provider, requestedModel), out _);
    }

    public bool TryGetProviderModel(string provider, string requestedModel, [NotNullWhen(true)] out string? providerModel)
    {
        if (TryGetEntry(provider, requestedModel, out var entry))
        {
            providerModel = entry.ProviderModel;
            return true;
        }

        providerModel = null;
        return false;
    }

    public string GetProviderModel(string provider, string requestedModel)
        => TryGetProviderModel(provider, requestedModel, out var mapped) ? mapped : requestedModel;

    public IReadOnlyList<ModelMapping> GetMappings()
        => _entries.Values.Select(static e => new ModelMapping(e.Provider, e.RequestedModel, e.ProviderModel)).ToArray();

    internal bool TryGetEntry(string provider, string requestedModel, [NotNullWhen(true)] out MappingEntry? entry)
    {
        if (_entries.IsEmpty)
        {
            entry = null;
            return false;
        }

        return _entries.TryGetValue(new MappingKey(provider, requestedModel), out entry);
    }

    /// <summary>True when any mapping names <paramref name="requestedModel"/> for <paramref name="provider"/>.</summary>
    internal bool HasMapping(string provider, string requestedModel) => TryGetEntry(provider, requestedModel, out _);

    private void Seed(OpenAiProxyOptions options)
    {
        lock (_reloadLock)
        {
            // Replace what configuration said before; mappings set from code stay and win.
            foreach (var pair in _entries)
            {
                if (pair.Value.FromConfiguration)
                {
                    _entries.TryRemove(pair);
                }
            }

            foreach (var mapping in options.ModelMappings)
            {
                if (string.IsNullOrWhiteSpace(mapping.Provider) || string.IsNullOrWhiteSpace(mapping.From) || string.IsNullOrWhiteSpace(mapping.To))
                {
                    continue; // reported by validation
                }

                _entries.TryAdd(
                    new MappingKey(mapping.Provider, mapping.From),
                    new MappingEntry(mapping.Provider, mapping.From, mapping.To, fromConfiguration: true));
            }
        }
    }

    public void Dispose() => _subscription?.Dispose();

    internal readonly record struct MappingKey(string Provider, string Model)
    {
        public static readonly IEqualityComparer<MappingKey> Comparer = new KeyComparer();

        private sealed class KeyComparer : IEqualityComparer<MappingKey>
        {
            public bool Equals(MappingKey x, MappingKey y)
                => string.Equals(x.Provider, y.Provider, StringComparison.OrdinalIgnoreCase)
                   && string.Equals(x.Model, y.Model, StringComparison.Ordinal);

            public int GetHashCode(MappingKey key)
                => HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(key.Provider), StringComparer.Ordinal.GetHashCode(key.Model));
        }
    }
}

/// <summary>A mapping with its target name pre-encoded as a JSON string token (quotes included).</summary>
internal sealed class MappingEntry(string provider, string requestedModel, string providerModel, bool fromConfiguration)
{
    public string Provider { get; } = provider;
    public string RequestedModel { get; } = requestedModel;
    public string ProviderModel { get; } = providerModel;
    public bool FromConfiguration { get; } = fromConfiguration;
    public byte[] EncodedProviderModel { get; } = JsonTokenEncoding.EncodeString(providerModel);
}
