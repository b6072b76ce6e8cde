using System.Diagnostics;
using AiProxy.Usage;

namespace AiProxy.Telemetry;

/// <summary>
/// Turns the per-request usage record into the per-request metrics (<c>aiproxy.requests</c>, durations, token
/// usage) and the request activity's closing tags. <see cref="UsageReporter"/> calls it first, synchronously,
/// and only builds a record for it while it <see cref="IsActive">is active</see>.
/// </summary>
internal sealed class RequestTelemetryObserver(ProxyMetrics metrics) : IProxyUsageObserver
{
    /// <summary>Whether a meter listener or a recording request activity wants the record.</summary>
    public bool IsActive => metrics.RequestInstrumentsEnabled || ProxyTracing.IsRecordingRequest(Activity.Current);

    public ValueTask OnRequestCompletedAsync(ProxyUsageRecord record, CancellationToken cancellationToken)
    {
        Record(record);
        return ValueTask.CompletedTask;
    }

    public void Record(ProxyUsageRecord record)
    {
        metrics.RecordRequest(record);
        var activity = Activity.Current;
        if (!ProxyTracing.IsRecordingRequest(activity))
        {
            return;
        }

        activity!.SetTag(TelemetryConsts.Proxy.Caller, record.Caller);
        activity.SetTag(TelemetryConsts.GenAI.RequestModel, record.RequestedModel);
        activity.SetTag(TelemetryConsts.GenAI.ProviderName, record.Provider);
        activity.SetTag(TelemetryConsts.GenAI.ResponseModel, record.ResponseModel);
        activity.SetTag(TelemetryConsts.Common.HttpStatusCode, record.StatusCode);
        activity.SetTag(TelemetryConsts.Proxy.Outcome, ProxyMetrics.OutcomeName(record.Outcome));
        activity.SetTag(TelemetryConsts.Proxy.AttemptCount, record.Attempts);
        activity.SetTag(TelemetryConsts.Proxy.Stream, record.Stream);
        if (record.Usage is { IsEstimate: false } usage)
        {
            activity.SetTag(TelemetryConsts.GenAI.UsageInputTokens, usage.InputTokens);
            activity.SetTag(TelemetryConsts.GenAI.UsageOutputTokens, usage.OutputTokens);
        }

        if (record.Outcome is ProxyRequestOutcome.Failed or ProxyRequestOutcome.UpstreamBroken || record.StatusCode >= 500)
        {
            activity.SetStatus(ActivityStatusCode.Error, ProxyMetrics.OutcomeName(record.Outcome));
        }
    }
}
