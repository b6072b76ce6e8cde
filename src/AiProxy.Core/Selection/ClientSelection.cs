using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>The outcome of a selection: the provider to try first and, in order, the ones to fall back to.</summary>
public sealed class ClientSelection
{
    /// <summary>
    /// A selection in the order given: <paramref name="ordered"/>[0] is tried first, the rest are the fallbacks in order.
    /// An <see cref="IClientSelector"/> of your own builds its answer with this. The list is copied.
    /// </summary>
    /// <param name="model">The requested model (empty for a request that names none).</param>
    /// <param name="strategy">The name of the strategy, or of your own rule, that ordered the providers.</param>
    /// <param name="ordered">The providers in the order they are to be tried: at least one, no <see langword="null"/>,
    /// each name once (names compare case-insensitively, as provider names do).</param>
    /// <exception cref="ArgumentNullException"><paramref name="model"/>, <paramref name="strategy"/> or <paramref name="ordered"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="strategy"/> is empty, or <paramref name="ordered"/> is empty, holds a
    /// <see langword="null"/> or names a provider twice.</exception>
    public ClientSelection(string model, string strategy, IReadOnlyList<IProviderClient> ordered)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentException.ThrowIfNullOrWhiteSpace(strategy);
        ArgumentNullException.ThrowIfNull(ordered);
        if (ordered.Count == 0)
        {
            throw new ArgumentException("A selection needs at least one provider.", nameof(ordered));
        }

        var copy = new IProviderClient[ordered.Count];
        for (var i = 0; i < copy.Length; i++)
        {
            var provider = ordered[i] ?? throw new ArgumentException($"The provider at index {i} is null.", nameof(ordered));
            for (var j = 0; j < i; j++)
            {
                if (string.Equals(copy[j].Name, provider.Name, StringComparison.OrdinalIgnoreCase))
                {
                    throw new ArgumentException($"Provider '{provider.Name}' is named twice (at {j} and {i}).", nameof(ordered));
                }
            }

            copy[i] = provider;
        }

        Model = model;
        Strategy = strategy;
        Primary = copy[0];
        Fallbacks = copy.AsSpan(1).ToArray();
    }

    /// <summary>The requested model.</summary>
    public string Model { get; }

    /// <summary>The strategy that ordered the candidates.</summary>
    public string Strategy { get; }

    /// <summary>The provider to try first.</summary>
    public IProviderClient Primary { get; }

    /// <summary>The providers to try next, in order.</summary>
    public IReadOnlyList<IProviderClient> Fallbacks { get; }
}
