using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary><c>random</c>: a uniform shuffle of the candidates.</summary>
internal sealed class RandomStrategy(SelectionRandom random) : ISelectionStrategy
{
    public string Name => SelectionStrategyNames.Random;

    public void Order(string model, Span<IProviderClient> candidates) => random.Random.Shuffle(candidates);
}
