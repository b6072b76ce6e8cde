using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AiProxy.Telemetry;

/// <summary>
/// The gateway's instruments on the <c>AiProxy</c> meter, created through <see cref="IMeterFactory"/>, and nothing else
/// (as ASP.NET Core's <c>HostingMetrics</c>): callers hand in tag values that are already bounded; what a request did
/// reaches them through <see cref="MetricsObserver"/>. Every <c>Record*</c> method checks its instrument's
/// <see cref="Instrument.Enabled"/> before building tags, so with no listener a request pays a few field reads.
/// </summary>
internal sealed class ProxyMetrics : IDisposable
{
    // OpenTelemetry's advice for GenAI durations and token counts.
    private static readonly double[] DurationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
    private static readonly long[] TokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

    // The gateway's own time is usually well under a second.
    private static readonly double[] OverheadBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

    // Boxed once: tag values are objects, and a request should not allocate for its status or a flag.
    private static readonly object[] BoxedStatus = CreateBoxedStatus();
    private static readonly object BoxedTrue = true;
    private static readonly object BoxedFalse = false;

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Histogram<double> _operationDuration;
    private readonly Histogram<long> _tokenUsage;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Histogram<double> _timeToFirstChunk;
    private readonly Histogram<double> _overhead;
    private readonly Counter<long> _attempts;
    private readonly Counter<long> _fallbacks;
    private readonly UpDownCounter<long> _activeRequests;
    private readonly Counter<long> _rateLimited;
    private readonly Counter<double> _cost;
    private readonly Counter<long> _unpriced;

    public ProxyMetrics(ProviderStateReadings providerStates, IMeterFactory? meterFactory = null)
    {
        var options = new MeterOptions(TelemetryConsts.Name) { Version = ProxyTracing.Version };
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(options) ?? new Meter(options);

        _operationDuration = Seconds(
            TelemetryConsts.GenAI.OperationDuration, DurationBuckets,
            "Duration of one upstream call, from sending the request until its response was relayed whole (or the call failed).");
        _tokenUsage = _meter.CreateHistogram(
            TelemetryConsts.GenAI.TokenUsage, TelemetryConsts.TokensUnit,
            "Tokens used per upstream call, as the provider reported them (the usage chunk of a stream).",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });
        _requests = _meter.CreateCounter<long>(
            TelemetryConsts.Proxy.Requests, "{request}", "Requests the gateway forwarded, by caller, model, provider, status and outcome.");
        _requestDuration = Seconds(
            TelemetryConsts.Proxy.RequestDuration, DurationBuckets,
            "From a request's arrival until its response was complete, over every attempt.");
        _timeToFirstChunk = Seconds(
            TelemetryConsts.Proxy.TimeToFirstChunk, DurationBuckets,
            "From a request's arrival until its first stream event (other responses: response headers) was ready for the client.");
        _overhead = Seconds(
            TelemetryConsts.Proxy.Overhead, OverheadBuckets,
            "Time the gateway itself took from a request's arrival until its first upstream call was sent: authentication, rate limiting, reading and inspecting the body, selection, building the upstream request.");
        _attempts = _meter.CreateCounter<long>(
            TelemetryConsts.Proxy.Attempts, "{attempt}", "Upstream attempts, by provider, model and outcome (status code, timeout, error...).");
        _fallbacks = _meter.CreateCounter<long>(
            TelemetryConsts.Proxy.Fallbacks, "{fallback}", "Moves from a failed provider to another one within a request.");
        _activeRequests = _meter.CreateUpDownCounter<long>(
            TelemetryConsts.Proxy.ActiveRequests, "{request}", "Gateway requests in progress.");
        _rateLimited = _meter.CreateCounter<long>(
            TelemetryConsts.Proxy.RateLimited, "{request}", "Requests refused by the gateway's own rate limits, by caller and limit.");
        _cost = _meter.CreateCounter<double>(
            TelemetryConsts.Proxy.Cost, "USD", "What forwarded requests cost, from their usage and the configured prices, by caller, model and provider.");
        _unpriced = _meter.CreateCounter<long>(
            TelemetryConsts.Proxy.Unpriced, "{request}", "Requests answered whose model has no known price (their cost is unknown, not 0).");
        _meter.CreateObservableGauge(
            TelemetryConsts.Proxy.ProviderState, providerStates.Read, "{provider}",
            "1 for each provider's current state (healthy, half_open, cooldown, disabled), 0 for the others.");
    }

    /// <summary>A histogram of seconds with the bucket boundaries OpenTelemetry advises for it.</summary>
    private Histogram<double> Seconds(string name, double[] buckets, string description)
        => _meter.CreateHistogram(name, TelemetryConsts.SecondsUnit, description, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });

    /// <summary>Whether any per-request instrument has a listener.</summary>
    public bool RequestInstrumentsEnabled
        => _requests.Enabled || _requestDuration.Enabled || _timeToFirstChunk.Enabled || _tokenUsage.Enabled || _cost.Enabled || _unpriced.Enabled;

    /// <summary><c>aiproxy.rate_limited</c>: one request refused by the gateway's own limits.</summary>
    /// <param name="callerTag">The caller as a bounded tag value (a token name, never its key).</param>
    /// <param name="scope">Which limit refused it (<c>requests</c>, <c>tokens</c>, <c>concurrent_requests</c>...).</param>
    public void RecordRateLimited(string callerTag, string scope)
    {
        if (_rateLimited.Enabled)
        {
            var tags = new TagList
            {
                { TelemetryConsts.Proxy.Caller, callerTag },
                { TelemetryConsts.Proxy.RateLimitScope, scope },
            };
            _rateLimited.Add(1, tags);
        }
    }

    /// <summary><c>aiproxy.active_requests</c> +1; true when counted, and <see cref="EndActive"/> must follow.</summary>
    public bool StartActive(string operation)
    {
        if (!_activeRequests.Enabled)
        {
            return false;
        }

        _activeRequests.Add(1, new KeyValuePair<string, object?>(TelemetryConsts.GenAI.OperationName, operation));
        return true;
    }

    /// <summary><c>aiproxy.active_requests</c> -1, for a request <see cref="StartActive"/> counted.</summary>
    public void EndActive(string operation)
        => _activeRequests.Add(-1, new KeyValuePair<string, object?>(TelemetryConsts.GenAI.OperationName, operation));

    /// <summary><c>aiproxy.requests</c>, <c>aiproxy.request.duration</c> and <c>aiproxy.time_to_first_chunk</c> of one request.</summary>
    /// <param name="tags">The request's bounded tag values.</param>
    /// <param name="duration">From its arrival until its response was complete.</param>
    /// <param name="firstChunk">Until its first stream event (other responses: response headers), when one came.</param>
    public void RecordRequest(in RequestTags tags, TimeSpan duration, TimeSpan? firstChunk)
    {
        var status = BoxStatus(tags.StatusCode);
        var stream = tags.Stream ? BoxedTrue : BoxedFalse;
        if (_requests.Enabled || _requestDuration.Enabled)
        {
            // The same tags on both, and the caller on the count only (a duration per caller would be too many series).
            var common = new TagList
            {
                { TelemetryConsts.GenAI.OperationName, tags.Operation },
                { TelemetryConsts.Common.HttpStatusCode, status },
                { TelemetryConsts.Proxy.Outcome, tags.Outcome },
                { TelemetryConsts.Proxy.Stream, stream },
            };
            AddOptional(ref common, TelemetryConsts.GenAI.ProviderName, tags.Provider);
            AddOptional(ref common, TelemetryConsts.GenAI.RequestModel, tags.Model);
            if (_requests.Enabled)
            {
                var counted = common;
                counted.Add(TelemetryConsts.Proxy.Caller, tags.Caller);
                _requests.Add(1, counted);
            }

            if (_requestDuration.Enabled)
            {
                _requestDuration.Record(duration.TotalSeconds, common);
            }
        }

        if (_timeToFirstChunk.Enabled && firstChunk is { } first)
        {
            var list = new TagList
            {
                { TelemetryConsts.GenAI.OperationName, tags.Operation },
                { TelemetryConsts.Proxy.Stream, stream },
            };
            AddOptional(ref list, TelemetryConsts.GenAI.ProviderName, tags.Provider);
            AddOptional(ref list, TelemetryConsts.GenAI.RequestModel, tags.Model);
            _timeToFirstChunk.Record(first.TotalSeconds, list);
        }
    }

    /// <summary>Whether <c>gen_ai.client.token.usage</c> has a listener.</summary>
    public bool TokenUsageEnabled => _tokenUsage.Enabled;

    /// <summary><c>gen_ai.client.token.usage</c>: the tokens a provider reported for one request.</summary>
    public void RecordTokenUsage(
        string operation, string callerTag, string? provider, string? requestModel, string? responseModel, long? input, long? output)
    {
        if (!_tokenUsage.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { TelemetryConsts.GenAI.TokenType, TelemetryConsts.GenAI.TokenTypeInput },
            { TelemetryConsts.GenAI.OperationName, operation },
            { TelemetryConsts.Proxy.Caller, callerTag },
        };
        AddOptional(ref tags, TelemetryConsts.GenAI.ProviderName, provider);
        AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, requestModel);
        AddOptional(ref tags, TelemetryConsts.GenAI.ResponseModel, responseModel);
        if (input is { } inputTokens)
        {
            _tokenUsage.Record(inputTokens, tags);
        }

        if (output is { } outputTokens)
        {
            tags[0] = new(TelemetryConsts.GenAI.TokenType, TelemetryConsts.GenAI.TokenTypeOutput);
            _tokenUsage.Record(outputTokens, tags);
        }
    }

    /// <summary><c>aiproxy.cost</c> (what a request cost, when it cost anything) or <c>aiproxy.cost.unpriced</c> (its model
    /// has no known price).</summary>
    /// <param name="callerTag">The caller as a bounded tag value.</param>
    /// <param name="provider">The provider that answered.</param>
    /// <param name="model">The requested model, bounded.</param>
    /// <param name="cost">The cost in USD; <see langword="null"/> for an unpriced request.</param>
    public void RecordCost(string callerTag, string? provider, string? model, decimal? cost)
    {
        var enabled = cost is null ? _unpriced.Enabled : cost > 0 && _cost.Enabled;
        if (!enabled)
        {
            return;
        }

        var tags = new TagList { { TelemetryConsts.Proxy.Caller, callerTag } };
        AddOptional(ref tags, TelemetryConsts.GenAI.ProviderName, provider);
        AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, model);
        if (cost is { } spent)
        {
            _cost.Add((double)spent, tags);
        }
        else
        {
            _unpriced.Add(1, tags);
        }
    }

    /// <summary>An unknown value (no provider was tried, the request named no model) leaves its tag out rather than empty.</summary>
    private static void AddOptional(ref TagList tags, string key, string? value)
    {
        if (value is not null)
        {
            tags.Add(key, value);
        }
    }

    /// <summary><c>gen_ai.client.operation.duration</c> of one upstream call; the model tags already bounded.</summary>
    public void RecordOperation(TimeSpan duration, string operation, string provider, string? providerModel, string? responseModel, string? errorType)
    {
        if (!_operationDuration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { TelemetryConsts.GenAI.OperationName, operation },
            { TelemetryConsts.GenAI.ProviderName, provider },
        };
        AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, providerModel);
        AddOptional(ref tags, TelemetryConsts.GenAI.ResponseModel, responseModel);
        AddOptional(ref tags, TelemetryConsts.Common.ErrorType, errorType);

        _operationDuration.Record(duration.TotalSeconds, tags);
    }

    /// <summary>Whether any per-attempt instrument has a listener.</summary>
    public bool AttemptInstrumentsEnabled => _operationDuration.Enabled || _attempts.Enabled;

    /// <summary><c>aiproxy.attempts</c>: one upstream attempt and how it ended (<c>200</c>, <c>503</c>, <c>timeout</c>...).</summary>
    public void RecordAttempt(string provider, string? providerModel, string outcome)
    {
        if (_attempts.Enabled)
        {
            var tags = new TagList
            {
                { TelemetryConsts.GenAI.ProviderName, provider },
                { TelemetryConsts.Proxy.AttemptOutcome, outcome },
            };
            AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, providerModel);
            _attempts.Add(1, tags);
        }
    }

    /// <summary><c>aiproxy.fallbacks</c>: the request moved on from <paramref name="from"/>, which failed with <paramref name="reason"/>.</summary>
    public void RecordFallback(string from, string to, string reason)
    {
        if (_fallbacks.Enabled)
        {
            var tags = new TagList
            {
                { TelemetryConsts.Proxy.FallbackFrom, from },
                { TelemetryConsts.Proxy.FallbackTo, to },
                { TelemetryConsts.Common.ErrorType, reason },
            };
            _fallbacks.Add(1, tags);
        }
    }

    /// <summary><c>aiproxy.overhead</c>: the gateway's own time from a request's arrival until its first upstream call was sent.</summary>
    public void RecordOverhead(TimeSpan overhead, string operation)
    {
        if (_overhead.Enabled)
        {
            _overhead.Record(Math.Max(0, overhead.TotalSeconds), new KeyValuePair<string, object?>(TelemetryConsts.GenAI.OperationName, operation));
        }
    }

    /// <summary>The status code as a tag value (an integer, as OpenTelemetry's HTTP conventions have it), boxed once.</summary>
    internal static object BoxStatus(int status) => (uint)status < (uint)BoxedStatus.Length ? BoxedStatus[status] : status;

    private static object[] CreateBoxedStatus()
    {
        var boxed = new object[600];
        for (var i = 0; i < boxed.Length; i++)
        {
            boxed[i] = i;
        }

        return boxed;
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
