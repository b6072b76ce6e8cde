using AiProxy.Errors;

namespace AiProxy.Attempts;

/// <summary>How one attempt ended: the response to relay, or the error and the <see cref="AttemptVerdict"/> that says what follows.</summary>
internal readonly record struct AttemptOutcome(ForwardResult? Result, ProxyError? Error, AttemptVerdict Verdict)
{
    /// <summary>The client left during the attempt.</summary>
    public static AttemptOutcome Aborted => new(null, null, AttemptClassifier.ClientAborted);

    public string Label => Verdict.Label;

    /// <summary>Neither a response nor an error: the client left.</summary>
    public bool ClientAborted => Result is null && Error is null;

    /// <summary>A failure worth another attempt (on another provider, or this one after a back-off).</summary>
    public bool IsRetryable => Error is not null && Verdict.Retryable;

    public static AttemptOutcome Success(ForwardResult result, in AttemptVerdict verdict) => new(result, null, verdict);

    public static AttemptOutcome Failed(ProxyError error, in AttemptVerdict verdict) => new(null, error, verdict);
}
