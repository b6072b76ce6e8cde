namespace AiProxy.Usage;

/// <summary>What the relay learned from the response bytes as they passed: token usage, response model, events.</summary>
internal sealed class UsageData
{
    /// <summary>Every prompt token: those read from and written to the provider's cache included.</summary>
    public long? PromptTokens { get; set; }

    /// <summary>The part of <see cref="PromptTokens"/> read from the provider's cache (<c>prompt_tokens_details.cached_tokens</c>,
    /// <c>cache_read_input_tokens</c>).</summary>
    public long? CachedPromptTokens { get; set; }

    /// <summary>The part of <see cref="PromptTokens"/> written to the provider's cache (<c>cache_creation_input_tokens</c>).</summary>
    public long? CacheWriteTokens { get; set; }

    public long? CompletionTokens { get; set; }

    public long? TotalTokens { get; set; }

    public string? ResponseModel { get; set; }

    /// <summary>SSE events with data relayed to the client (the usage-only chunk not counted when it was dropped).</summary>
    public int DataEvents { get; set; }

    public bool SawDone { get; set; }

    public bool SawErrorEvent { get; set; }

    public bool HasUsage => PromptTokens is not null || CompletionTokens is not null || TotalTokens is not null;
}
