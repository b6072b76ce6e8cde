namespace AiProxy.Pipeline;

/// <summary>An upstream attempt whose request was built and is being sent (<see cref="IProxyExchangeObserver.OnAttemptSent"/>).</summary>
/// <param name="Attempt">Which attempt.</param>
/// <param name="FallbackFrom">The provider the previous attempt failed on, when this attempt moved to another one (a fallback).</param>
/// <param name="FallbackReason">How the previous attempt ended (<c>503</c>, <c>timeout</c>...), when <paramref name="FallbackFrom"/> is set.</param>
/// <param name="Overhead">For the first attempt only: the gateway's own time from the request's arrival until this send.</param>
internal readonly record struct AttemptSent(AttemptInfo Attempt, string? FallbackFrom, string? FallbackReason, TimeSpan? Overhead);
