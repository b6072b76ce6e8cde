namespace AiProxy;

/// <summary>Prices of models, to compute what each request costs (<c>Pricing</c> at the root, or
/// <c>Providers:{name}:Pricing</c> for one provider, whose entries win).</summary>
public sealed class PricingOptions
{
    /// <summary>At the root only: also use the price table shipped with AiProxy (common OpenAI and Anthropic models, as
    /// published on the date the table states). Entries of <see cref="Models"/> win over it, entry by entry. Default
    /// <see langword="false"/>: prices change, so nobody is billed from a stale table without asking for it.</summary>
    public bool UseBuiltIn { get; set; }

    /// <summary>Prices by model: exact names or <c>*</c> globs. A list, because model names may contain <c>:</c>. An exact
    /// name wins over a glob, and a longer glob over a shorter one.</summary>
    public IList<ModelPriceOptions> Models { get; } = new List<ModelPriceOptions>();
}
