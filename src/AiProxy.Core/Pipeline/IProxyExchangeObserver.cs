namespace AiProxy.Pipeline;

/// <summary>
/// Watches requests go through the pipeline: each upstream attempt as it is sent and as it ends, a refusal by the rate
/// limiter or the budgets, and each request's outcome. The pipeline only reports; what is made of it belongs to the
/// observers: metrics (<see cref="Telemetry.MetricsObserver"/>), tracing (<see cref="Telemetry.TracingObserver"/>), the usage records
/// (<see cref="Usage.UsageReporter"/>) and the dashboard's history (<see cref="History.RequestHistory"/>). A request's end
/// carries its cost; budgets are settled by the pipeline itself before the observers hear (admission depends on them).
/// </summary>
/// <remarks>
/// Register one with <c>TryAddEnumerable</c>; <see cref="ProxyExchangeEvents"/> reads the registrations once and calls
/// them in order. The attempt events are passed by reference on the request path: an observer reads what it needs
/// at once and keeps none of it (the event's references, such as the activity, are the pipeline's), must not block,
/// and must not throw. Every member has an empty default, so an observer implements only what it records.
/// </remarks>
internal interface IProxyExchangeObserver
{
    /// <summary>An attempt's request was built and is being sent to its provider.</summary>
    void OnAttemptSent(in AttemptSent attempt)
    {
    }

    /// <summary>An attempt is over: a failed one at once, the answering one when its response has been relayed.</summary>
    void OnAttemptEnded(in AttemptEnded attempt)
    {
    }

    /// <summary>The gateway's own limits refused a request: a rate limit (before the body was read, or at admission), or a spent budget.</summary>
    void OnRateLimited(in RateLimitRefusal refusal)
    {
    }

    /// <summary>A forwarded request is over: its response was written (or the client left), its lease settled.</summary>
    /// <remarks>Awaited after the client got its whole response; an exception is logged, not propagated.</remarks>
    ValueTask OnRequestEndedAsync(RequestEnded request, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
