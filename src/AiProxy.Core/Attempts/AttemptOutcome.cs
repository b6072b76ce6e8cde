using AiProxy.Errors;

namespace AiProxy.Attempts;

/// <summary>How one attempt ended: the response to relay, or the error and the <see cref="AttemptVerdict"/> that says what follows.</summary>
/// <param name="Result">The response to relay, when the attempt answered.</param>
/// <param name="Error">The error, when it failed.</param>
/// <param name="Verdict">What its ending means for health and retries.</param>
/// <param name="ProviderModel">The model name the provider was sent, once the request was built (for the attempt's telemetry).</param>
internal readonly record struct AttemptOutcome(ForwardResult? Result, ProxyError? Error, AttemptVerdict Verdict, string? ProviderModel = null)
{
    /// <summary>The client left during the attempt.</summary>
    public static AttemptOutcome Aborted(string? providerModel) => new(null, null, AttemptClassifier.ClientAborted, providerModel);

    public string Label => Verdict.Label;

    /// <summary>Neither a response nor an error: the client left.</summary>
    public bool ClientAborted => Result is null && Error is null;

    /// <summary>A failure worth another attempt (on another provider, or this one after a back-off).</summary>
    public bool IsRetryable => Error is not null && Verdict.Retryable;

    public static AttemptOutcome Success(ForwardResult result, in AttemptVerdict verdict) => new(result, null, verdict);

    public static AttemptOutcome Failed(ProxyError error, in AttemptVerdict verdict, string? providerModel = null)
        => new(null, error, verdict, providerModel);
}
