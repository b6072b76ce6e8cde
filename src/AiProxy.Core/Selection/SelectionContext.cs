namespace AiProxy.Selection;

/// <summary>Per-request choices that influence selection.</summary>
/// <param name="Strategy">A strategy name that overrides <c>DefaultStrategy</c>, or <see langword="null"/>.</param>
/// <param name="Provider">Pins the request to this provider, or <see langword="null"/>. The provider must serve the model
/// (its <c>Models</c> or a mapping name it, or its <c>Models</c> is empty); otherwise there is no candidate.</param>
public readonly record struct SelectionContext(string? Strategy = null, string? Provider = null)
{
    /// <summary>The request's rate-limit lease: providers it found at capacity are skipped, and the first choice is charged.</summary>
    internal RateLimiting.ProxyRateLimitLease? Capacity { get; init; }

    /// <summary>The providers the caller's token may reach, or <see langword="null"/> for every provider: the others are no
    /// candidates, in panic too.</summary>
    internal Tokens.ProviderScope? AllowedProviders { get; init; }

    /// <summary>The request's budget hold: providers whose budget has no room for it are skipped, in panic too.</summary>
    internal Budgets.BudgetHold? Budget { get; init; }

    /// <summary>The request's prompt estimate in tokens (<c>lowest_cost</c> prices it).</summary>
    internal long PromptTokens { get; init; }

    /// <summary>The request's completion limit in tokens, times <c>n</c> (<c>lowest_cost</c> prices it).</summary>
    internal long CompletionTokens { get; init; }
}
