namespace AiProxy;

/// <summary>The price of one model (or a <c>*</c> glob of models), in US dollars per million tokens.</summary>
public sealed class ModelPriceOptions
{
    /// <summary>The model name as sent to the provider (after mapping), or a glob such as <c>gpt-4o-mini*</c>. Required.</summary>
    public string? Model { get; set; }

    /// <summary>USD per million prompt (input) tokens.</summary>
    public decimal InputPer1M { get; set; }

    /// <summary>USD per million completion (output) tokens.</summary>
    public decimal OutputPer1M { get; set; }

    /// <summary>USD per million prompt tokens served from the provider's cache; unset means <see cref="InputPer1M"/>.</summary>
    public decimal? CachedInputPer1M { get; set; }

    /// <summary>USD per million prompt tokens written to the provider's cache; unset means <see cref="InputPer1M"/>.</summary>
    public decimal? CacheWritePer1M { get; set; }
}
