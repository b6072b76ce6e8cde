namespace AiProxy.Pipeline;

/// <summary>An upstream attempt that is over (<see cref="IProxyExchangeObserver.OnAttemptEnded"/>).</summary>
/// <param name="Attempt">Which attempt.</param>
/// <param name="Outcome">How it ended as the attempt loop saw it: the status (<c>200</c>, <c>503</c>), <c>timeout</c>, <c>error</c>...</param>
/// <param name="Answered">Its response went to the client (relayed, whole or not); otherwise the request moved on or gave up.</param>
/// <param name="StatusCode">The upstream's status, 0 when none came.</param>
/// <param name="ErrorType">What went wrong, bounded (<c>503</c>, <c>timeout</c>, <c>stream_interrupted</c>, <c>cancelled</c>...); <see langword="null"/> on success.</param>
/// <param name="ResponseModel">The model the provider said answered, when its response named one.</param>
/// <param name="InputTokens">Prompt tokens as the provider reported them.</param>
/// <param name="OutputTokens">Completion tokens as the provider reported them.</param>
/// <param name="Duration">From the attempt's start until its end (for the answering one: until its response was relayed).</param>
internal readonly record struct AttemptEnded(
    AttemptInfo Attempt,
    string Outcome,
    bool Answered,
    int StatusCode,
    string? ErrorType,
    string? ResponseModel,
    long? InputTokens,
    long? OutputTokens,
    TimeSpan Duration);
