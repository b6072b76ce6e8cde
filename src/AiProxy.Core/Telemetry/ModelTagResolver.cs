using System.Collections.Concurrent;
using AiProxy.Mapping;
using AiProxy.Providers;

namespace AiProxy.Telemetry;

/// <summary>
/// Keeps the model tags of metrics bounded: a model name is used as a tag value only when some provider's
/// <c>Models</c> list or some mapping names it, or, for providers with an empty list (they serve everything),
/// when the provider's discovered model list has it. Anything else is <see cref="TelemetryConsts.Other"/>, so a
/// caller sending made-up names cannot create a time series per name.
/// </summary>
internal sealed class ModelTagResolver
{
    // Names matched only by a glob (gpt-4o*) are open-ended: at most this many get a series of their own.
    private const int MaxRemembered = 512;

    private readonly ProviderRegistry _registry;
    private readonly ModelMappingService _mappings;
    private readonly ModelCatalog _catalog;

    // Known names, so a repeated lookup is one dictionary read. Never forgotten on reload: a name that was known
    // keeps its series, which stays bounded by the cap.
    private readonly ConcurrentDictionary<string, string> _known = new(StringComparer.Ordinal);

    public ModelTagResolver(ProviderRegistry registry, ModelMappingService mappings, ModelCatalog catalog)
    {
        _registry = registry;
        _mappings = mappings;
        _catalog = catalog;
    }

    /// <summary>The tag value for <paramref name="model"/>: the name itself when known, else <c>_other</c>;
    /// <see langword="null"/> when there is no model (the tag is then left out).</summary>
    public string? Resolve(string? model)
    {
        if (string.IsNullOrEmpty(model))
        {
            return null;
        }

        if (_known.TryGetValue(model, out var tag))
        {
            return tag;
        }

        var match = Match(model);
        if (match == Known.No || (match == Known.ByGlob && _known.Count >= MaxRemembered))
        {
            return TelemetryConsts.Other;
        }

        if (_known.Count < MaxRemembered)
        {
            _known.TryAdd(model, model);
        }

        return model;
    }

    private Known Match(string model)
    {
        if (_mappings.NamesModel(model))
        {
            return Known.ByName;
        }

        var byGlob = false;
        foreach (var provider in _registry.All)
        {
            var models = provider.Models;
            if (models.Count == 0)
            {
                var discovered = _catalog.GetDiscovered(provider.Name);
                for (var i = 0; i < discovered.Count; i++)
                {
                    if (string.Equals(discovered[i].Id, model, StringComparison.OrdinalIgnoreCase))
                    {
                        return Known.ByName;
                    }
                }

                continue;
            }

            for (var i = 0; i < models.Count; i++)
            {
                var entry = models[i];
                if (ModelPattern.IsGlob(entry))
                {
                    byGlob = byGlob || ModelPattern.Matches(entry, model);
                }
                else if (string.Equals(entry, model, StringComparison.OrdinalIgnoreCase))
                {
                    return Known.ByName;
                }
            }
        }

        return byGlob ? Known.ByGlob : Known.No;
    }

    private enum Known
    {
        No,
        ByName,
        ByGlob,
    }
}
