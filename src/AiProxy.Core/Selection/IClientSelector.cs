using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>
/// Chooses providers for a model: the enabled providers that serve it, ordered by the request's strategy
/// (or <c>DefaultStrategy</c>). Inject it to route your own calls the way the gateway routes its requests.
/// A replacement routes the gateway's requests too: the gateway calls <see cref="GetCandidates"/>; build the answer of
/// <see cref="SelectClientWithFallback"/> in the same order with the <see cref="ClientSelection"/> constructor.
/// </summary>
public interface IClientSelector
{
    /// <summary>The provider to try first for <paramref name="model"/> and the ordered fallbacks,
    /// or <see langword="null"/> when no enabled provider serves the model.</summary>
    /// <exception cref="ArgumentException">The context names an unknown strategy or provider.</exception>
    ClientSelection? SelectClientWithFallback(string model, SelectionContext context = default);

    /// <summary>Every candidate for <paramref name="model"/> in the order they would be tried; empty when none serves it.</summary>
    /// <exception cref="ArgumentException">The context names an unknown strategy or provider.</exception>
    IReadOnlyList<IProviderClient> GetCandidates(string model, SelectionContext context = default);

    /// <summary>The names of every registered strategy.</summary>
    IReadOnlyCollection<string> StrategyNames { get; }
}
