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
    // Names matched only by a glob (gpt-4o*) are open-ended: at most this many get a series of their own. Names a list,
    // mapping or discovery spells out get at most as many again, so no input grows the tags past twice this. Names
    // compare case-insensitively (as Models lists and mappings do) and the tag is the canonical spelling, so letter-case
    // variants share one series and one cache entry.
    private const int MaxRemembered = 512;

    private readonly ProviderRegistry _registry;
    private readonly IModelMappingService _mappings;
    private readonly ModelCatalog _catalog;

    // Known names (any letter case) and their tag, so a repeated lookup is one dictionary read. Never forgotten on
    // reload: a name that was known keeps its series, which stays bounded by the cap.
    private readonly ConcurrentDictionary<string, string> _known = new(StringComparer.OrdinalIgnoreCase);
    private int _count; // of _known, without taking its locks

    /// <summary>Names remembered (tests).</summary>
    internal int Count => Volatile.Read(ref _count);
    private int _globs;

    public ModelTagResolver(ProviderRegistry registry, IModelMappingService mappings, ModelCatalog catalog)
    {
        _registry = registry;
        _mappings = mappings;
        _catalog = catalog;
    }

    /// <summary>The tag value for <paramref name="model"/>: its canonical spelling when known (the configured
    /// <c>Models</c> entry, the mapping's name or the discovered id; the first spelling seen for a glob match), else
    /// <c>_other</c>; <see langword="null"/> when there is no model (the tag is then left out).</summary>
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

        if (Volatile.Read(ref _count) >= MaxRemembered * 2)
        {
            return TelemetryConsts.Other;
        }

        var (canonical, byGlob) = Match(model);
        if (canonical is null || (byGlob && Volatile.Read(ref _globs) >= MaxRemembered))
        {
            return TelemetryConsts.Other;
        }

        if (_known.TryAdd(model, canonical))
        {
            Interlocked.Increment(ref _count);
            if (byGlob)
            {
                Interlocked.Increment(ref _globs);
            }

            return canonical;
        }

        return _known.TryGetValue(model, out tag) ? tag : canonical;
    }

    /// <summary>The canonical spelling of <paramref name="model"/> (<see langword="null"/> when nothing names it), and
    /// whether only a glob matched it.</summary>
    private (string? Canonical, bool ByGlob) Match(string model)
    {
        if (_mappings.Names(model))
        {
            string? target = null;
            foreach (var mapping in _mappings.GetMappings())
            {
                if (string.Equals(mapping.RequestedModel, model, StringComparison.OrdinalIgnoreCase))
                {
                    return (mapping.RequestedModel, false);
                }

                if (target is null && string.Equals(mapping.ProviderModel, model, StringComparison.OrdinalIgnoreCase))
                {
                    target = mapping.ProviderModel;
                }
            }

            if (target is not null)
            {
                return (target, false);
            }
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
                        return (discovered[i].Id, false);
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
                    return (entry, false);
                }
            }
        }

        return byGlob ? (model, true) : (null, false);
    }
}
