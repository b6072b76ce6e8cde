using System.Collections.Concurrent;
using AiProxy.Mapping;
using AiProxy.Requests;
using AiProxy.Selection;

namespace AiProxy.Providers;

/// <summary>
/// Which enabled providers serve a model (model list, globs, mappings; an empty list serves everything), in failover
/// order. That changes only with configuration or mappings, so with the built-in <see cref="IModelMappingService"/> it is
/// worked out once per model and cached until either changes. A host app's own mapping service says nothing when its
/// mappings change, so with one it is worked out on every call. Selection starts from it, and admission reads the
/// candidates' capacity from it, whatever <see cref="IClientSelector"/> the host app registered.
/// </summary>
internal sealed class ServingProviders(IModelMappingService mappings)
{
    /// <summary>Distinct model names cached; beyond this, a flood of made-up names is served uncached.</summary>
    private const int MaxCachedModels = 4096;

    private readonly ModelMappingService? _builtIn = mappings as ModelMappingService;

    private volatile Cache? _cache;

    /// <summary>Model names whose serving set is cached (tests).</summary>
    public int Count => _cache?.ByModel.Count ?? 0;

    /// <summary>The providers of <paramref name="providers"/> (a registry snapshot) that serve <paramref name="model"/>
    /// (empty: every enabled provider), in failover order (priority, then name).</summary>
    public ProviderClient[] Get(ProviderClient[] providers, string model)
    {
        if (_builtIn is null)
        {
            return Find(providers, model);
        }

        var mappingVersion = _builtIn.Version;
        var cache = _cache;
        if (cache is null || !ReferenceEquals(cache.Providers, providers) || cache.MappingVersion != mappingVersion)
        {
            cache = new Cache(providers, mappingVersion);
            _cache = cache;
        }

        if (cache.ByModel.TryGetValue(model, out var serving))
        {
            return serving;
        }

        serving = Find(providers, model);
        if (serving.Length > 0 && cache.ByModel.Count < MaxCachedModels)
        {
            // A name nothing serves (a 404) is never cached: made-up names must not grow anything.
            cache.ByModel.TryAdd(model, serving);
            ModelNames.Remember(model);
        }

        return serving;
    }

    private static ProviderClient[] Find(ProviderClient[] providers, string model)
    {
        var list = new List<ProviderClient>(providers.Length);
        foreach (var provider in providers)
        {
            if (provider.Enabled && (model.Length == 0 || provider.ServesModel(model)))
            {
                list.Add(provider);
            }
        }

        if (list.Count == 0)
        {
            return [];
        }

        list.Sort(static (a, b) => FailoverStrategy.Compare(a, b));
        return list.ToArray();
    }

    /// <summary>Per registry snapshot and mapping version: the providers serving each model seen so far.</summary>
    private sealed class Cache(ProviderClient[] providers, int mappingVersion)
    {
        public ProviderClient[] Providers { get; } = providers;

        public int MappingVersion { get; } = mappingVersion;

        public ConcurrentDictionary<string, ProviderClient[]> ByModel { get; } = new(StringComparer.Ordinal);
    }
}
