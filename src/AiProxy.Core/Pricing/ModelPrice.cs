namespace AiProxy.Pricing;

/// <summary>What a model costs, in US dollars per million tokens.</summary>
/// <param name="InputPer1M">Prompt (input) tokens.</param>
/// <param name="OutputPer1M">Completion (output) tokens.</param>
/// <param name="CachedInputPer1M">Prompt tokens read from the provider's cache.</param>
/// <param name="CacheWritePer1M">Prompt tokens written to the provider's cache.</param>
public readonly record struct ModelPrice(decimal InputPer1M, decimal OutputPer1M, decimal CachedInputPer1M, decimal CacheWritePer1M)
{
    private const decimal Million = 1_000_000m;

    /// <summary>A price whose cache reads and writes cost as much as any input.</summary>
    /// <param name="inputPer1M">USD per million prompt tokens.</param>
    /// <param name="outputPer1M">USD per million completion tokens.</param>
    public static ModelPrice Of(decimal inputPer1M, decimal outputPer1M) => new(inputPer1M, outputPer1M, inputPer1M, inputPer1M);

    /// <summary>The cost in USD of the tokens given.</summary>
    /// <param name="promptTokens">Every prompt token, those read from the cache included.</param>
    /// <param name="cachedPromptTokens">The part of <paramref name="promptTokens"/> read from the cache.</param>
    /// <param name="completionTokens">Completion tokens.</param>
    /// <param name="cacheWriteTokens">Prompt tokens written to the cache (counted apart from <paramref name="promptTokens"/>).</param>
    public decimal Cost(long promptTokens, long cachedPromptTokens, long completionTokens, long cacheWriteTokens = 0)
    {
        var cached = Math.Clamp(cachedPromptTokens, 0, Math.Max(0, promptTokens));
        return ((Math.Max(0, promptTokens) - cached) * InputPer1M
            + cached * CachedInputPer1M
            + Math.Max(0, cacheWriteTokens) * CacheWritePer1M
            + Math.Max(0, completionTokens) * OutputPer1M) / Million;
    }
}
