using System.Diagnostics;
using AiProxy.Pipeline;
using AiProxy.Usage;

namespace AiProxy.Telemetry;

/// <summary>
/// Puts what the pipeline reports on the activities: each attempt's model, status, usage and error on its own activity
/// (which <see cref="ProxyExchangeEvents"/> starts and stops), the request's outcome on the request activity, and a
/// refusal by the rate limiter as an event. Only activities that record tags are touched.
/// </summary>
internal sealed class TracingObserver : IProxyExchangeObserver
{
    public void OnAttemptSent(in AttemptSent sent)
    {
        // OpenTelemetry's GenAI span name is "{operation} {model}", known once the request is built.
        var attempt = sent.Attempt;
        if (attempt.Activity is { IsAllDataRequested: true } activity && attempt.ProviderModel is { } model)
        {
            activity.DisplayName = string.Concat(attempt.Operation, " ", model);
            activity.SetTag(TelemetryConsts.GenAI.RequestModel, model);
        }
    }

    public void OnAttemptEnded(in AttemptEnded attempt)
    {
        if (attempt.Attempt.Activity is not { } activity)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            if (attempt.StatusCode != 0)
            {
                activity.SetTag(TelemetryConsts.Common.HttpStatusCode, attempt.StatusCode);
            }

            if (attempt.Answered)
            {
                activity.SetTag(TelemetryConsts.GenAI.ResponseModel, attempt.ResponseModel);
                activity.SetTag(TelemetryConsts.GenAI.UsageInputTokens, attempt.InputTokens);
                activity.SetTag(TelemetryConsts.GenAI.UsageOutputTokens, attempt.OutputTokens);
            }

            activity.SetTag(TelemetryConsts.Common.ErrorType, attempt.ErrorType);
        }

        if (attempt.ErrorType is { } error)
        {
            activity.SetStatus(ActivityStatusCode.Error, error);
        }
    }

    public void OnRateLimited(in RateLimitRefusal refusal)
    {
        if (ProxyTracing.IsRecordingRequest(Activity.Current))
        {
            Activity.Current!.AddEvent(new ActivityEvent(
                TelemetryConsts.Proxy.RateLimitedEvent,
                tags: new ActivityTagsCollection { [TelemetryConsts.Proxy.RateLimitScope] = refusal.Limit }));
        }
    }

    public ValueTask OnRequestEndedAsync(RequestEnded request, CancellationToken cancellationToken)
    {
        var activity = Activity.Current;
        if (ProxyTracing.IsRecordingRequest(activity))
        {
            Tag(activity!, request);
        }

        return ValueTask.CompletedTask;
    }

    private static void Tag(Activity activity, in RequestEnded request)
    {
        var result = request.Result;
        activity.SetTag(TelemetryConsts.Proxy.Caller, request.Caller.Name);
        activity.SetTag(TelemetryConsts.GenAI.RequestModel, request.Request.Inspection.Model);
        activity.SetTag(TelemetryConsts.GenAI.ProviderName, result.Provider?.Name);
        activity.SetTag(TelemetryConsts.GenAI.ResponseModel, result.Usage.ResponseModel);
        activity.SetTag(TelemetryConsts.Common.HttpStatusCode, request.StatusCode);
        activity.SetTag(TelemetryConsts.Proxy.Outcome, TelemetryConsts.Proxy.OutcomeName(request.Outcome));
        activity.SetTag(TelemetryConsts.Proxy.AttemptCount, result.Attempts);
        activity.SetTag(TelemetryConsts.Proxy.Stream, request.Request.Inspection.Stream);
        if (request.Usage is { IsEstimate: false } usage)
        {
            activity.SetTag(TelemetryConsts.GenAI.UsageInputTokens, usage.InputTokens);
            activity.SetTag(TelemetryConsts.GenAI.UsageOutputTokens, usage.OutputTokens);
        }

        if (request.Outcome is ProxyRequestOutcome.Failed or ProxyRequestOutcome.UpstreamBroken || request.StatusCode >= 500)
        {
            activity.SetStatus(ActivityStatusCode.Error, TelemetryConsts.Proxy.OutcomeName(request.Outcome));
        }
    }
}
