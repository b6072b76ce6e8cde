using System.Collections.Concurrent;
using AiProxy.Pipeline;

namespace AiProxy.Telemetry;

/// <summary>
/// Turns what the pipeline reports into the gateway's metrics: attempts, fallbacks, overhead and upstream call
/// durations per attempt, the per-request instruments, token usage and cost per request, refusals by the rate limiter
/// and the budgets. It
/// keeps the tags bounded (model names through <see cref="ModelTagResolver"/>, callers capped); the instruments are
/// <see cref="ProxyMetrics"/>'s.
/// </summary>
internal sealed class MetricsObserver(ProxyMetrics metrics, ModelTagResolver models) : IProxyExchangeObserver
{
    private const int MaxCallerTags = 256;
    private readonly ConcurrentDictionary<string, byte> _callerTags = new(StringComparer.Ordinal);

    public void OnAttemptSent(in AttemptSent sent)
    {
        if (sent.FallbackFrom is { } from)
        {
            metrics.RecordFallback(from, sent.Attempt.Provider, sent.FallbackReason ?? TelemetryConsts.Other);
        }

        if (sent.Overhead is { } overhead)
        {
            metrics.RecordOverhead(overhead, sent.Attempt.Operation);
        }
    }

    public void OnAttemptEnded(in AttemptEnded ended)
    {
        if (!metrics.AttemptInstrumentsEnabled)
        {
            return;
        }

        var attempt = ended.Attempt;
        var providerModel = models.Resolve(attempt.ProviderModel);
        metrics.RecordAttempt(attempt.Provider, providerModel, ended.Outcome);
        metrics.RecordOperation(
            ended.Duration, attempt.Operation, attempt.Provider, providerModel, models.Resolve(ended.ResponseModel), ended.ErrorType);
    }

    public void OnRateLimited(in RateLimitRefusal refusal)
        => metrics.RecordRateLimited(CallerTag(refusal.Caller), refusal.Limit);

    public ValueTask OnRequestEndedAsync(RequestEnded request, CancellationToken cancellationToken)
    {
        if (metrics.RequestInstrumentsEnabled)
        {
            Record(request);
        }

        return ValueTask.CompletedTask;
    }

    private void Record(in RequestEnded request)
    {
        var result = request.Result;
        var operation = ProxyTracing.OperationName(request.Request.Path);
        var caller = CallerTag(request.Caller.Name);
        var provider = result.Provider?.Name;
        var requestedModel = request.Request.Inspection.Model;
        var tags = new RequestTags(
            caller, operation, request.StatusCode, TelemetryConsts.Proxy.OutcomeName(request.Outcome), request.Request.Inspection.Stream,
            provider, models.Resolve(requestedModel));
        metrics.RecordRequest(tags, request.Duration, result.TimeToFirstEvent ?? result.TimeToFirstByte);
        if (request.Cost is > 0 || request.Unpriced)
        {
            metrics.RecordCost(caller, provider, tags.Model, request.Cost);
        }

        // Estimates (a stream that ended without its usage chunk) are left out: the histogram holds what providers reported.
        if (metrics.TokenUsageEnabled && request.Usage is { IsEstimate: false } usage)
        {
            metrics.RecordTokenUsage(
                operation, caller, provider, models.Resolve(result.ProviderModel ?? requestedModel), models.Resolve(result.Usage.ResponseModel),
                usage.InputTokens, usage.OutputTokens);
        }
    }

    /// <summary>
    /// The caller as a tag value: token names are few (configuration holds them), but users of a host app that
    /// authenticates callers itself are not, so past <see cref="MaxCallerTags"/> distinct callers the rest are <c>_other</c>.
    /// </summary>
    internal string CallerTag(string caller)
    {
        if (_callerTags.ContainsKey(caller))
        {
            return caller;
        }

        return _callerTags.Count < MaxCallerTags && _callerTags.TryAdd(caller, 0) ? caller : TelemetryConsts.Other;
    }
}
