namespace AiProxy.Selection;

/// <summary>Per-request choices that influence selection.</summary>
/// <param name="Strategy">A strategy name that overrides <c>DefaultStrategy</c>, or <see langword="null"/>.</param>
/// <param name="Provider">Pins the request to this provider (even if it does not list the model), or <see langword="null"/>.</param>
public readonly record struct SelectionContext(string? Strategy = null, string? Provider = null)
{
    /// <summary>The request's rate-limit lease: providers it found at capacity are skipped, and the first choice is charged.</summary>
    internal RateLimiting.ProxyRateLimitLease? Capacity { get; init; }
}
