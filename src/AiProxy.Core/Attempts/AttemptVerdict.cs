using AiProxy.Health;

namespace AiProxy.Attempts;

/// <summary>What one attempt's ending means: its route label, what it tells the provider's health, and whether the
/// request may go on (another candidate) and come back to this provider later (after a back-off).</summary>
/// <param name="Label">The attempt's entry in <c>x-aiproxy-route</c> and the metrics' outcome (a status, <c>timeout</c>, <c>error</c>...).</param>
/// <param name="Health">What the provider's health records.</param>
/// <param name="Failure">The kind of failure, when <paramref name="Health"/> is <see cref="HealthSignal.Failure"/>.</param>
/// <param name="Retryable">Another attempt may follow; otherwise the request ends with this attempt.</param>
/// <param name="RepeatAllowed">This provider may take a later attempt of the same request.</param>
/// <param name="RetryAfter">The provider's own <c>Retry-After</c>, the least wait before it is tried again.</param>
/// <param name="HealthLabel">What the health's failure record says, when not <paramref name="Label"/> (a stream's error code).</param>
internal readonly record struct AttemptVerdict(
    string Label, HealthSignal Health, FailureKind Failure, bool Retryable, bool RepeatAllowed, TimeSpan? RetryAfter = null, string? HealthLabel = null);

/// <summary>Which of the provider health's records an attempt's ending calls for.</summary>
internal enum HealthSignal
{
    /// <summary>Nothing to record (the provider was never reached).</summary>
    None,

    /// <summary>The provider answered: <see cref="ProviderHealth.RecordSuccess"/> with the latency.</summary>
    Success,

    /// <summary><see cref="ProviderHealth.RecordFailure"/> with <see cref="AttemptVerdict.Failure"/>.</summary>
    Failure,

    /// <summary>Only the provider-model pair: <see cref="ProviderHealth.RecordModelNotFound"/>.</summary>
    ModelNotFound,

    /// <summary>Neither success nor failure (the client left): <see cref="ProviderHealth.RecordNeutral"/>.</summary>
    Neutral,
}
