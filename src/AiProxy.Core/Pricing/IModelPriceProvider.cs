namespace AiProxy.Pricing;

/// <summary>
/// Where the gateway learns what a model costs. The default reads <c>Pricing:Models</c>, each provider's
/// <c>Providers:{name}:Pricing:Models</c> (which wins) and, with <c>Pricing:UseBuiltIn</c>, the shipped table. Replace it
/// (register your own before <c>AddOpenAiProxy</c>, or after with <c>Replace</c>) to take prices from anywhere; it is
/// called on the request path, so answer from memory.
/// </summary>
public interface IModelPriceProvider
{
    /// <summary>Whether any price is known at all: when not, the gateway computes no costs and adds no cost headers.</summary>
    bool IsEnabled { get; }

    /// <summary>The price of <paramref name="model"/> at <paramref name="provider"/>.</summary>
    /// <param name="provider">The provider's name, or <see langword="null"/> for the price wherever it is served.</param>
    /// <param name="model">The model name sent to the provider (after mapping).</param>
    /// <param name="price">The price, when known.</param>
    /// <returns>Whether a price is known; a request without one costs 0 and is counted as unpriced.</returns>
    bool TryGetPrice(string? provider, string model, out ModelPrice price);
}
