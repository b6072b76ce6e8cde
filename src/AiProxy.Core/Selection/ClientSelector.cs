using System.Collections.Frozen;
using AiProxy.Health;
using AiProxy.Providers;
using AiProxy.RateLimiting;
using AiProxy.Requests;
using AiProxy.Tokens;
using Microsoft.Extensions.Options;

namespace AiProxy.Selection;

/// <summary>
/// Filters the registry to the candidates of a model and lets the strategy order them. The request path
/// uses <see cref="Select(string, SelectionContext, Span{IProviderClient}, out bool)"/>, which fills a caller-owned span and allocates nothing.
/// Which providers serve a model is the registry's (<see cref="ServingProviders"/>, cached per model); each request then
/// only checks health and capacity.
/// </summary>
internal sealed class ClientSelector : IClientSelector
{
    private readonly ProviderRegistry _registry;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly FrozenDictionary<string, ISelectionStrategy> _strategies;
    private volatile ResolvedStrategy? _lastStrategy;

    public ClientSelector(ProviderRegistry registry, IOptionsMonitor<OpenAiProxyOptions> options, IEnumerable<ISelectionStrategy> strategies)
    {
        _registry = registry;
        _options = options;
        var byName = new Dictionary<string, ISelectionStrategy>(StringComparer.OrdinalIgnoreCase);
        foreach (var strategy in strategies)
        {
            byName[strategy.Name] = strategy; // the last registration of a name wins, so host apps can replace a built-in
        }

        _strategies = byName.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        StrategyNames = _strategies.Keys.Order(StringComparer.Ordinal).ToArray();
    }

    public IReadOnlyCollection<string> StrategyNames { get; }

    /// <summary>Upper bound of candidates for a span the caller rents.</summary>
    public int MaxCandidates => _registry.All.Length;

    public bool TryGetStrategy(string name, out ISelectionStrategy strategy)
        => _strategies.TryGetValue(name, out strategy!);

    /// <summary>Writes the providers a request may be sent to, health aside: within their capacity and budget and reachable by
    /// the caller's token. Both apply in panic too: a provider at its configured limit is full, and one the token may not
    /// reach is no candidate at all, not merely an unhealthy one.</summary>
    private static int Admit(ProviderClient[] serving, Span<IProviderClient> destination, in SelectionContext context)
    {
        var (capacity, scope, budget) = (context.Capacity, context.AllowedProviders, context.Budget);
        var count = 0;
        foreach (var provider in serving)
        {
            if ((capacity is null || capacity.HasProviderCapacity(provider.Name)) && (scope is null || scope.Allows(provider.Name))
                && (budget is null || budget.HasProviderBudget(provider.Name)))
            {
                destination[count++] = provider;
                if (count == destination.Length)
                {
                    break; // a reload grew the set after the caller sized its buffer
                }
            }
        }

        return count;
    }

    public ClientSelection? SelectClientWithFallback(string model, SelectionContext context = default)
    {
        var candidates = GetCandidates(model, context);
        return candidates.Count == 0
            ? null
            : new ClientSelection(model, context.Strategy ?? _options.CurrentValue.DefaultStrategy, candidates);
    }

    public IReadOnlyList<IProviderClient> GetCandidates(string model, SelectionContext context = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        var buffer = new IProviderClient[Math.Max(1, MaxCandidates)];
        var count = Select(model, context, buffer);
        return buffer.AsSpan(0, count).ToArray();
    }

    /// <summary>Writes the ordered candidates into <paramref name="destination"/> and returns how many.</summary>
    /// <param name="model">The requested model; empty for requests that name none (every enabled provider is a candidate).</param>
    /// <param name="context">Strategy and pin.</param>
    /// <param name="destination">At least <see cref="MaxCandidates"/> long.</param>
    public int Select(string model, SelectionContext context, Span<IProviderClient> destination)
        => Select(model, context, destination, out _);

    /// <summary>As <see cref="Select(string, SelectionContext, Span{IProviderClient})"/>; <paramref name="panic"/> tells that every
    /// candidate was cooling down, so all were returned rather than none.</summary>
    public int Select(string model, SelectionContext context, Span<IProviderClient> destination, out bool panic)
        => Select(model, context, destination, firstOnly: false, out panic, out _);

    /// <summary>
    /// The request path's form of <see cref="Select(string, SelectionContext, Span{IProviderClient}, out bool)"/>: when the strategy
    /// can choose its first candidate for less than the whole order (<see cref="IFirstChoiceStrategy"/>), only
    /// <c>destination[0]</c> is final and <paramref name="fallbacks"/> orders the rest, to call when they are needed.
    /// </summary>
    public int SelectFirst(string model, SelectionContext context, Span<IProviderClient> destination, out bool panic, out PendingFallbacks fallbacks)
        => Select(model, context, destination, firstOnly: true, out panic, out fallbacks);

    private int Select(string model, SelectionContext context, Span<IProviderClient> destination, bool firstOnly, out bool panic, out PendingFallbacks fallbacks)
    {
        panic = false;
        fallbacks = default;
        var strategyName = context.Strategy ?? _options.CurrentValue.DefaultStrategy;
        ResolvedStrategy resolved;
        if (_lastStrategy is { } last && ReferenceEquals(last.Name, strategyName))
        {
            resolved = last; // the default strategy's name is the same string on every request
        }
        else if (_strategies.TryGetValue(strategyName, out var found))
        {
            resolved = new ResolvedStrategy(strategyName, found, found as IFirstChoiceStrategy);
            _lastStrategy = resolved;
        }
        else
        {
            throw new ArgumentException($"Unknown selection strategy '{strategyName}'. Valid: {string.Join(", ", StrategyNames)}.", nameof(context));
        }

        var providers = _registry.All;
        if (context.Provider is not null)
        {
            var pinned = _registry.Find(context.Provider)
                ?? throw new ArgumentException($"Unknown provider '{context.Provider}'.", nameof(context));
            // A pin chooses among the providers that serve the model; it cannot send a model to one that does not.
            if (!pinned.Enabled || (model.Length > 0 && Array.IndexOf(_registry.Serving.Get(providers, model), pinned) < 0)
                || (context.AllowedProviders is { } allowed && !allowed.Allows(pinned.Name)))
            {
                return 0;
            }

            destination[0] = pinned;
            return 1;
        }

        var serving = _registry.Serving.Get(providers, model);
        var admitted = Admit(serving, destination, context);
        var count = HealthyOrPanicPolicy.Apply(destination[..admitted], model, out panic);

        // With two candidates the first choice is the whole order.
        if (firstOnly && count > 2 && resolved.FirstChoice is { } firstChoice)
        {
            firstChoice.OrderFirst(model, destination[..count]);
            fallbacks = new PendingFallbacks(firstChoice, model, count);
        }
        else if (resolved.Strategy is IRequestAwareStrategy aware)
        {
            aware.Order(model, destination[..count], context);
        }
        else
        {
            resolved.Strategy.Order(model, destination[..count]);
        }

        return count;
    }

    /// <summary>Model names whose serving set is cached (tests).</summary>
    internal int CachedModelCount => _registry.Serving.Count;

    /// <summary>A strategy looked up by name, and whether it can choose its first candidate alone (found out once, not per request).</summary>
    private sealed record ResolvedStrategy(string Name, ISelectionStrategy Strategy, IFirstChoiceStrategy? FirstChoice);
}
