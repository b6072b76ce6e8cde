using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using AiProxy.Requests;
using Microsoft.Extensions.Options;

namespace AiProxy.Mapping;

/// <summary>
/// Thread-safe mapping table. Entries carry the target name already JSON-encoded, so the request path
/// splices it into the body without encoding per request.
/// </summary>
internal sealed class ModelMappingService : IModelMappingService, IDisposable
{
    // Configuration's mappings are swapped in whole on reload, so a request never sees a half-applied set.
    // Host code's changes sit on top: a value of null hides a configured mapping it removed.
    private readonly ConcurrentDictionary<MappingKey, MappingEntry?> _overrides = new(MappingKey.Comparer);
    private readonly IDisposable? _subscription;
    private volatile Dictionary<MappingKey, MappingEntry> _configured = new(MappingKey.Comparer);
    private int _version;

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
        _overrides[new MappingKey(provider, requestedModel)] = new MappingEntry(provider, requestedModel, providerModel, fromConfiguration: false);
        Interlocked.Increment(ref _version);
    }

    /// <summary>Changes with every change of the table, so callers can cache what they derived from it.</summary>
    internal int Version => Volatile.Read(ref _version);

    public bool RemoveProviderMapping(string provider, string requestedModel)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(requestedModel);
        var key = new MappingKey(provider, requestedModel);
        var existed = TryGetEntry(provider, requestedModel, out _);
        if (_configured.ContainsKey(key))
        {
            _overrides[key] = null;
        }
        else
        {
            _overrides.TryRemove(key, out _);
        }

        Interlocked.Increment(ref _version);
        return existed;
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
    {
        var configured = _configured;
        var result = new List<ModelMapping>();
        foreach (var (key, entry) in configured)
        {
            if (!_overrides.ContainsKey(key))
            {
                result.Add(new ModelMapping(entry.Provider, entry.RequestedModel, entry.ProviderModel));
            }
        }

        foreach (var entry in _overrides.Values)
        {
            if (entry is not null)
            {
                result.Add(new ModelMapping(entry.Provider, entry.RequestedModel, entry.ProviderModel));
            }
        }

        return result;
    }

    internal bool TryGetEntry(string provider, string requestedModel, [NotNullWhen(true)] out MappingEntry? entry)
    {
        var configured = _configured;
        if (_overrides.IsEmpty && configured.Count == 0)
        {
            entry = null;
            return false;
        }

        var key = new MappingKey(provider, requestedModel);
        if (_overrides.TryGetValue(key, out entry))
        {
            return entry is not null;
        }

        return configured.TryGetValue(key, out entry);
    }

    /// <summary>True when any mapping names <paramref name="requestedModel"/> for <paramref name="provider"/>.</summary>
    internal bool HasMapping(string provider, string requestedModel) => TryGetEntry(provider, requestedModel, out _);

    /// <summary>True when any mapping, for any provider, has <paramref name="model"/> as its source or its target.</summary>
    internal bool NamesModel(string model)
    {
        foreach (var entry in _configured.Values)
        {
            if (Names(entry, model))
            {
                return true;
            }
        }

        if (!_overrides.IsEmpty)
        {
            foreach (var pair in _overrides)
            {
                if (pair.Value is { } entry && Names(entry, model))
                {
                    return true;
                }
            }
        }

        return false;

        static bool Names(MappingEntry entry, string model)
            => string.Equals(entry.RequestedModel, model, StringComparison.OrdinalIgnoreCase)
               || string.Equals(entry.ProviderModel, model, StringComparison.OrdinalIgnoreCase);
    }

    private void Seed(OpenAiProxyOptions options)
    {
        var configured = new Dictionary<MappingKey, MappingEntry>(MappingKey.Comparer);
        foreach (var mapping in options.ModelMappings)
        {
            if (string.IsNullOrWhiteSpace(mapping.Provider) || string.IsNullOrWhiteSpace(mapping.From) || string.IsNullOrWhiteSpace(mapping.To))
            {
                continue; // reported by validation
            }

            configured[new MappingKey(mapping.Provider, mapping.From)] = new MappingEntry(mapping.Provider, mapping.From, mapping.To, fromConfiguration: true);
        }

        _configured = configured;

        // A reload re-applies configuration: what host code hid of the old set shows again.
        foreach (var pair in _overrides)
        {
            if (pair.Value is null)
            {
                _overrides.TryRemove(pair);
            }
        }

        Interlocked.Increment(ref _version);
    }

    public void Dispose() => _subscription?.Dispose();

    /// <summary>Provider and model names compare case-insensitively, as <c>Models</c> lists do.</summary>
    internal readonly record struct MappingKey(string Provider, string Model)
    {
        public static readonly IEqualityComparer<MappingKey> Comparer = new KeyComparer();

        private sealed class KeyComparer : IEqualityComparer<MappingKey>
        {
            public bool Equals(MappingKey x, MappingKey y)
                => string.Equals(x.Provider, y.Provider, StringComparison.OrdinalIgnoreCase)
                   && string.Equals(x.Model, y.Model, StringComparison.OrdinalIgnoreCase);

            public int GetHashCode(MappingKey key)
                => HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(key.Provider), StringComparer.OrdinalIgnoreCase.GetHashCode(key.Model));
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
