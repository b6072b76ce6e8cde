using System.Globalization;
using AiProxy.Health;

namespace AiProxy.Attempts;

/// <summary>
/// Failure classification (DESIGN section 5) in one place: turns how an attempt ended (a status, a timeout, a broken
/// connection or stream, the client leaving) into an <see cref="AttemptVerdict"/>, and applies the verdict to the
/// provider's health. The attempt loop only follows verdicts; it never looks at a status itself.
/// </summary>
internal static class AttemptClassifier
{
    private const string OkLabel = "200";

    /// <summary>How a response status is handled before its body is read.</summary>
    public static StatusClass ClassifyStatus(int status)
    {
        if (UpstreamStatus.IsSuccess(status))
        {
            return StatusClass.Success;
        }

        if (UpstreamStatus.IsRedirect(status))
        {
            return StatusClass.Redirect;
        }

        return UpstreamStatus.IsRetryable(status) ? StatusClass.Retryable : StatusClass.CallerError;
    }

    /// <summary>The provider answered (a success, or the caller's own mistake relayed unchanged): it is healthy.</summary>
    public static AttemptVerdict Answered(int status)
        => new(Label(status), HealthSignal.Success, default, Retryable: false, RepeatAllowed: false);

    /// <summary>A redirect is neither relayed nor followed: a failure of this provider, not worth repeating.</summary>
    public static AttemptVerdict Redirect(int status)
        => new(Label(status), HealthSignal.Failure, FailureKind.Status, Retryable: true, RepeatAllowed: false);

    /// <summary>A retryable status (<see cref="StatusClass.Retryable"/>). 404 marks only the provider-model pair (a bogus model
    /// name must not cool the provider down for everyone); 401/403 mean the gateway's key is wrong there; neither is worth
    /// repeating. The others (408, 429, 5xx) may be repeated after a back-off of at least <paramref name="retryAfter"/>.</summary>
    public static AttemptVerdict RetryableStatus(int status, TimeSpan? retryAfter) => status switch
    {
        404 => new(Label(status), HealthSignal.ModelNotFound, default, Retryable: true, RepeatAllowed: false),
        401 or 403 => new(Label(status), HealthSignal.Failure, FailureKind.Credentials, Retryable: true, RepeatAllowed: false),
        _ => new(Label(status), HealthSignal.Failure, FailureKind.Status, Retryable: true, RepeatAllowed: true, retryAfter),
    };

    /// <summary>A successful stream that ended before its first event, or whose first event was an error.</summary>
    /// <param name="errorCode">The error's code, which the health records.</param>
    public static AttemptVerdict BrokenStream(string errorCode)
        => new(
            errorCode == EmptyStreamCode ? "empty" : "stream_error", HealthSignal.Failure, FailureKind.Stream, Retryable: true, RepeatAllowed: true,
            HealthLabel: errorCode);

    /// <summary>The error code of a stream that ended before its first event.</summary>
    public const string EmptyStreamCode = "upstream_empty_stream";

    /// <summary>No headers (or first event) within the attempt timeout. Never repeated on the same provider: it may still be
    /// working on (and billing) the request.</summary>
    public static AttemptVerdict Timeout { get; } = new("timeout", HealthSignal.Failure, FailureKind.Timeout, Retryable: true, RepeatAllowed: false);

    /// <summary>The connection failed or broke, or the upstream's bytes could not be processed: the next candidate, never a 500.</summary>
    public static AttemptVerdict Connection { get; } = new("error", HealthSignal.Failure, FailureKind.Connection, Retryable: true, RepeatAllowed: true);

    /// <summary>A reload removed the provider after selection: nothing was sent, so its health learns nothing.</summary>
    public static AttemptVerdict Removed { get; } = new("removed", HealthSignal.None, default, Retryable: true, RepeatAllowed: false);

    /// <summary>The provider's kind cannot express the request (<see cref="Protocols.ProtocolRefusalException"/>): nothing was sent,
    /// its health learns nothing, and another candidate may take it.</summary>
    public static AttemptVerdict Refused { get; } = new("refused", HealthSignal.None, default, Retryable: true, RepeatAllowed: false);

    /// <summary>The client left: the request ends, and the provider is neither praised nor blamed.</summary>
    public static AttemptVerdict ClientAborted { get; } = new("cancelled", HealthSignal.Neutral, default, Retryable: false, RepeatAllowed: false);

    /// <summary>Hands the verdict to the provider's health.</summary>
    public static void Apply(in AttemptVerdict verdict, ProviderHealth health, string model, TimeSpan latency)
    {
        switch (verdict.Health)
        {
            case HealthSignal.Success:
                health.RecordSuccess(latency);
                break;
            case HealthSignal.Failure:
                health.RecordFailure(verdict.Failure, verdict.HealthLabel ?? verdict.Label, verdict.RetryAfter);
                break;
            case HealthSignal.ModelNotFound:
                health.RecordModelNotFound(model);
                break;
            case HealthSignal.Neutral:
                health.RecordNeutral();
                break;
        }
    }

    private static string Label(int status) => status == 200 ? OkLabel : status.ToString(CultureInfo.InvariantCulture);

    /// <summary>The four ways a response status is handled.</summary>
    internal enum StatusClass
    {
        /// <summary>2xx: accept (a stream once its first event arrived).</summary>
        Success,

        /// <summary>3xx: a failure (its <c>Location</c> names the provider's internals).</summary>
        Redirect,

        /// <summary>The caller's problem (400, 413, 422...): relayed unchanged.</summary>
        CallerError,

        /// <summary>Another candidate may answer (<see cref="UpstreamStatus.IsRetryable"/>).</summary>
        Retryable,
    }
}
