namespace AiProxy.Selection;

/// <summary>The randomness the strategies use, injected so tests can seed it.</summary>
internal sealed class SelectionRandom(Random random)
{
    public SelectionRandom()
        : this(Random.Shared)
    {
    }

    public Random Random { get; } = random;
}
