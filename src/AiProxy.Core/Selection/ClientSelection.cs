using AiProxy.Providers;

namespace AiProxy.Selection;

/// <summary>The outcome of a selection: the provider to try first and, in order, the ones to fall back to.</summary>
public sealed class ClientSelection
{
    internal ClientSelection(string model, string strategy, IReadOnlyList<IProviderClient> ordered)
    {
        Model = model;
        Strategy = strategy;
        Primary = ordered[0];
        Fallbacks = ordered.Skip(1).ToArray();
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
