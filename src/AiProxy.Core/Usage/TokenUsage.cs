namespace AiProxy.Usage;

/// <summary>Tokens a request used.</summary>
/// <param name="InputTokens">Prompt (input) tokens, those read from or written to the provider's prompt cache included.</param>
/// <param name="OutputTokens">Completion (output) tokens.</param>
/// <param name="TotalTokens">All tokens.</param>
/// <param name="IsEstimate"><see langword="true"/> when the provider did not report usage (a stream that ended early)
/// and the numbers were estimated from the bytes relayed.</param>
public sealed record TokenUsage(long? InputTokens, long? OutputTokens, long? TotalTokens, bool IsEstimate)
{
    /// <summary>The part of <see cref="InputTokens"/> the provider read from its prompt cache, when it said.</summary>
    public long? CachedInputTokens { get; init; }

    /// <summary>The part of <see cref="InputTokens"/> the provider wrote to its prompt cache, when it said.</summary>
    public long? CacheWriteTokens { get; init; }
}
