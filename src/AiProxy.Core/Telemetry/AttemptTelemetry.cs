using System.Diagnostics;
using System.Globalization;
using AiProxy.Attempts;
using AiProxy.Relay;

namespace AiProxy.Telemetry;

/// <summary>
/// One upstream attempt as telemetry sees it: its activity (a child of the request's), its duration for
/// <c>gen_ai.client.operation.duration</c> and its outcome for <c>aiproxy.attempts</c>. A failed attempt ends
/// here and now; the answering one ends when its response has been relayed whole (<see cref="Complete"/>).
/// Only created while something listens.
/// </summary>
internal sealed class AttemptTelemetry
{
    private readonly ProxyMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly long _started;
    private readonly string _operation;
    private readonly string _provider;
    private string? _providerModel;
    private int _completed;

    private AttemptTelemetry(ProxyMetrics metrics, TimeProvider time, Activity? activity, string operation, string provider)
    {
        _metrics = metrics;
        _time = time;
        Activity = activity;
        _operation = operation;
        _provider = provider;
        _started = time.GetTimestamp();
    }

    /// <summary>The attempt's activity, current while the attempt is sent (so its context is what goes upstream).</summary>
    public Activity? Activity { get; }

    /// <summary>Starts an attempt's telemetry, or returns <see langword="null"/> when neither a meter listener nor an activity listener cares.</summary>
    public static AttemptTelemetry? Start(ProxyMetrics metrics, TimeProvider time, string path, string provider, int attempt)
    {
        if (!metrics.AttemptInstrumentsEnabled && !ProxyTracing.Source.HasListeners())
        {
            return null;
        }

        var operation = ProxyTracing.OperationName(path);
        return new AttemptTelemetry(metrics, time, ProxyTracing.StartAttempt(operation, provider, attempt), operation, provider);
    }

    /// <summary>The request was built: <paramref name="providerModel"/> is the model name the provider is sent.</summary>
    public void Sending(string? providerModel)
    {
        _providerModel = providerModel;
        if (Activity is { IsAllDataRequested: true } activity && providerModel is not null)
        {
            activity.DisplayName = string.Concat(_operation, " ", providerModel);
            activity.SetTag(TelemetryConsts.GenAI.RequestModel, providerModel);
        }
    }

    /// <summary>The attempt failed with <paramref name="label"/> (<c>503</c>, <c>timeout</c>, <c>error</c>...): the request moves on.</summary>
    public void Failed(string label)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        _metrics.RecordAttempt(_provider, _providerModel, label);
        _metrics.RecordOperation(_time.GetElapsedTime(_started), _operation, _provider, _providerModel, responseModel: null, errorType: label);
        if (Activity is { } activity)
        {
            if (activity.IsAllDataRequested)
            {
                activity.SetTag(TelemetryConsts.Common.ErrorType, label);
                if (int.TryParse(label, NumberStyles.None, CultureInfo.InvariantCulture, out var status))
                {
                    activity.SetTag(TelemetryConsts.Common.HttpStatusCode, status);
                }
            }

            activity.SetStatus(ActivityStatusCode.Error, label);
            activity.Stop();
        }
    }

    /// <summary>The attempt produced the response the client gets: it stays open until the relay ends.</summary>
    public void Accepted(ForwardResult result, string label)
    {
        _metrics.RecordAttempt(_provider, _providerModel, label);
        if (Activity is { IsAllDataRequested: true } activity && result.Response is { } response)
        {
            activity.SetTag(TelemetryConsts.Common.HttpStatusCode, (int)response.StatusCode);
        }

        result.Telemetry = this;
    }

    /// <summary>The answering attempt's response was relayed (<paramref name="outcome"/>), or dropped unrelayed (<see langword="null"/>).</summary>
    public void Complete(ForwardResult result, RelayOutcome? outcome)
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return;
        }

        var status = result.Response is { } response ? (int)response.StatusCode : 0;
        var errorType = outcome switch
        {
            RelayOutcome.Completed => status >= 400 ? status.ToString(CultureInfo.InvariantCulture) : null,
            RelayOutcome.ClientAborted => "cancelled",
            RelayOutcome.UpstreamFailed => "stream_interrupted",
            RelayOutcome.UpstreamIdle => "stream_idle_timeout",
            RelayOutcome.ClientTooSlow => "client_write_timeout",
            _ => "not_relayed",
        };
        var usage = result.Usage;
        _metrics.RecordOperation(_time.GetElapsedTime(_started), _operation, _provider, _providerModel, usage.ResponseModel, errorType);
        if (Activity is not { } activity)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag(TelemetryConsts.GenAI.ResponseModel, usage.ResponseModel);
            activity.SetTag(TelemetryConsts.GenAI.UsageInputTokens, usage.PromptTokens);
            activity.SetTag(TelemetryConsts.GenAI.UsageOutputTokens, usage.CompletionTokens);
            activity.SetTag(TelemetryConsts.Common.ErrorType, errorType);
        }

        if (errorType is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, errorType);
        }

        activity.Stop();
    }
}
