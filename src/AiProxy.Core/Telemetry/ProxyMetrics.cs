using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using AiProxy.Health;
using AiProxy.Providers;
using AiProxy.RateLimiting;
using AiProxy.Usage;

namespace AiProxy.Telemetry;

/// <summary>
/// The gateway's instruments on the <c>AiProxy</c> meter, created through <see cref="IMeterFactory"/>. Every
/// <c>Record*</c> method checks its instrument's <see cref="Instrument.Enabled"/> before building tags, so with no
/// listener a request pays a few field reads.
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
    private readonly ProviderRegistry _registry;
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

    public ProxyMetrics(ProviderRegistry registry, ModelTagResolver models, IMeterFactory? meterFactory = null)
    {
        _registry = registry;
        Models = models;
        var options = new MeterOptions(TelemetryConsts.Name) { Version = ProxyTracing.Version };
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(options) ?? new Meter(options);

        _operationDuration = _meter.CreateHistogram(
            TelemetryConsts.GenAI.OperationDuration, TelemetryConsts.SecondsUnit,
            "Duration of one upstream call, from sending the request until its response was relayed whole (or the call failed).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _tokenUsage = _meter.CreateHistogram(
            TelemetryConsts.GenAI.TokenUsage, TelemetryConsts.TokensUnit,
            "Tokens used per upstream call, as the provider reported them (the usage chunk of a stream).",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });
        _requests = _meter.CreateCounter<long>(
            TelemetryConsts.Proxy.Requests, "{request}", "Requests the gateway forwarded, by caller, model, provider, status and outcome.");
        _requestDuration = _meter.CreateHistogram(
            TelemetryConsts.Proxy.RequestDuration, TelemetryConsts.SecondsUnit,
            "From a request's arrival until its response was complete, over every attempt.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _timeToFirstChunk = _meter.CreateHistogram(
            TelemetryConsts.Proxy.TimeToFirstChunk, TelemetryConsts.SecondsUnit,
            "From a request's arrival until its first stream event (other responses: response headers) was ready for the client.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _overhead = _meter.CreateHistogram(
            TelemetryConsts.Proxy.Overhead, TelemetryConsts.SecondsUnit,
            "Time the gateway itself took from a request's arrival until its first upstream call was sent: authentication, rate limiting, reading and inspecting the body, selection, building the upstream request.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = OverheadBuckets });
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
            TelemetryConsts.Proxy.ProviderState, ObserveProviderStates, "{provider}",
            "1 for each provider's current state (healthy, half_open, cooldown, disabled), 0 for the others.");
    }

    /// <summary>Turns model names into bounded tag values.</summary>
    public ModelTagResolver Models { get; }

    /// <summary>Whether any per-request instrument (fed from the usage record) has a listener.</summary>
    public bool RequestInstrumentsEnabled
        => _requests.Enabled || _requestDuration.Enabled || _timeToFirstChunk.Enabled || _tokenUsage.Enabled || _cost.Enabled || _unpriced.Enabled;

    /// <summary>Whether any per-attempt instrument has a listener.</summary>
    public bool AttemptInstrumentsEnabled => _operationDuration.Enabled || _attempts.Enabled;

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

    private const int MaxCallerTags = 256;
    private readonly ConcurrentDictionary<string, byte> _callerTags = new(StringComparer.Ordinal);

    /// <summary>
    /// Counts a request refused by the gateway's own rate limiter (<c>aiproxy.rate_limited</c>), and marks the
    /// request's activity. Call it once per refused request.
    /// </summary>
    /// <param name="caller">The token name (never its key).</param>
    /// <param name="scope">Which limit refused it, a short constant such as <c>requests</c>, <c>tokens</c>, <c>concurrency</c>.</param>
    public void RecordRateLimited(string caller, string scope)
    {
        if (_rateLimited.Enabled)
        {
            var tags = new TagList
            {
                { TelemetryConsts.Proxy.Caller, CallerTag(caller) },
                { TelemetryConsts.Proxy.RateLimitScope, scope },
            };
            _rateLimited.Add(1, tags);
        }

        if (ProxyTracing.IsRecordingRequest(Activity.Current))
        {
            Activity.Current!.AddEvent(new ActivityEvent(
                TelemetryConsts.Proxy.RateLimitedEvent,
                tags: new ActivityTagsCollection { [TelemetryConsts.Proxy.RateLimitScope] = scope }));
        }
    }

    /// <inheritdoc cref="RecordRateLimited(string, string)"/>
    /// <param name="caller">The token name (never its key).</param>
    /// <param name="reason">Which limit refused it; tagged <c>requests</c>, <c>tokens</c>, <c>concurrent_requests</c>, <c>provider_capacity</c> or <c>unavailable</c>.</param>
    public void RecordRateLimited(string caller, ProxyRateLimitReason reason) => RecordRateLimited(caller, reason switch
    {
        ProxyRateLimitReason.Requests => "requests",
        ProxyRateLimitReason.Tokens => "tokens",
        ProxyRateLimitReason.ConcurrentRequests => "concurrent_requests",
        ProxyRateLimitReason.ProviderCapacity => "provider_capacity",
        ProxyRateLimitReason.Unavailable => "unavailable",
        _ => TelemetryConsts.Other,
    });

    /// <summary>Starts the request's activity and counts it active until the returned scope is disposed.</summary>
    public RequestTelemetry StartRequest(string path)
    {
        var operation = ProxyTracing.OperationName(path);
        var activity = ProxyTracing.StartRequest(operation);
        var counted = _activeRequests.Enabled;
        if (counted)
        {
            _activeRequests.Add(1, new KeyValuePair<string, object?>(TelemetryConsts.GenAI.OperationName, operation));
        }

        return new RequestTelemetry(this, activity, counted ? operation : null);
    }

    internal void EndActive(string operation)
        => _activeRequests.Add(-1, new KeyValuePair<string, object?>(TelemetryConsts.GenAI.OperationName, operation));

    /// <summary>The per-request instruments, from the record usage observers get.</summary>
    public void RecordRequest(ProxyUsageRecord record)
    {
        if (!RequestInstrumentsEnabled)
        {
            return;
        }

        var operation = ProxyTracing.OperationName(record.Endpoint);
        var model = Models.Resolve(record.RequestedModel);
        var provider = record.Provider;
        var status = BoxStatus(record.StatusCode);
        var outcome = OutcomeName(record.Outcome);
        var stream = record.Stream ? BoxedTrue : BoxedFalse;
        if (_requests.Enabled)
        {
            var tags = new TagList
            {
                { TelemetryConsts.Proxy.Caller, CallerTag(record.Caller) },
                { TelemetryConsts.GenAI.OperationName, operation },
                { TelemetryConsts.Common.HttpStatusCode, status },
                { TelemetryConsts.Proxy.Outcome, outcome },
                { TelemetryConsts.Proxy.Stream, stream },
            };
            AddOptional(ref tags, TelemetryConsts.GenAI.ProviderName, provider);
            AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, model);
            _requests.Add(1, tags);
        }

        if (_requestDuration.Enabled)
        {
            var tags = new TagList
            {
                { TelemetryConsts.GenAI.OperationName, operation },
                { TelemetryConsts.Common.HttpStatusCode, status },
                { TelemetryConsts.Proxy.Outcome, outcome },
                { TelemetryConsts.Proxy.Stream, stream },
            };
            AddOptional(ref tags, TelemetryConsts.GenAI.ProviderName, provider);
            AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, model);
            _requestDuration.Record(record.Duration.TotalSeconds, tags);
        }

        if (_timeToFirstChunk.Enabled && (record.TimeToFirstEvent ?? record.TimeToFirstByte) is { } firstChunk)
        {
            var tags = new TagList
            {
                { TelemetryConsts.GenAI.OperationName, operation },
                { TelemetryConsts.Proxy.Stream, stream },
            };
            AddOptional(ref tags, TelemetryConsts.GenAI.ProviderName, provider);
            AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, model);
            _timeToFirstChunk.Record(firstChunk.TotalSeconds, tags);
        }

        if ((record.Cost is > 0 && _cost.Enabled) || (record.Unpriced && _unpriced.Enabled))
        {
            var tags = new TagList { { TelemetryConsts.Proxy.Caller, CallerTag(record.Caller) } };
            AddOptional(ref tags, TelemetryConsts.GenAI.ProviderName, provider);
            AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, model);
            if (record.Cost is { } cost)
            {
                _cost.Add((double)cost, tags);
            }
            else
            {
                _unpriced.Add(1, tags);
            }
        }

        // Estimates (a stream that ended without its usage chunk) are left out: the histogram holds what providers reported.
        if (_tokenUsage.Enabled && record.Usage is { IsEstimate: false } usage)
        {
            var tags = new TagList
            {
                { TelemetryConsts.GenAI.TokenType, TelemetryConsts.GenAI.TokenTypeInput },
                { TelemetryConsts.GenAI.OperationName, operation },
                { TelemetryConsts.Proxy.Caller, CallerTag(record.Caller) },
            };
            AddOptional(ref tags, TelemetryConsts.GenAI.ProviderName, provider);
            AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, Models.Resolve(record.ProviderModel ?? record.RequestedModel));
            AddOptional(ref tags, TelemetryConsts.GenAI.ResponseModel, Models.Resolve(record.ResponseModel));
            if (usage.InputTokens is { } input)
            {
                _tokenUsage.Record(input, tags);
            }

            if (usage.OutputTokens is { } output)
            {
                tags[0] = new(TelemetryConsts.GenAI.TokenType, TelemetryConsts.GenAI.TokenTypeOutput);
                _tokenUsage.Record(output, tags);
            }
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

    /// <summary><c>gen_ai.client.operation.duration</c> of one upstream call.</summary>
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
        AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, Models.Resolve(providerModel));
        AddOptional(ref tags, TelemetryConsts.GenAI.ResponseModel, Models.Resolve(responseModel));
        AddOptional(ref tags, TelemetryConsts.Common.ErrorType, errorType);

        _operationDuration.Record(duration.TotalSeconds, tags);
    }

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
            AddOptional(ref tags, TelemetryConsts.GenAI.RequestModel, Models.Resolve(providerModel));
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

    internal static string OutcomeName(ProxyRequestOutcome outcome) => outcome switch
    {
        ProxyRequestOutcome.Completed => "completed",
        ProxyRequestOutcome.Failed => "failed",
        ProxyRequestOutcome.ClientDisconnected => "client_disconnected",
        ProxyRequestOutcome.UpstreamBroken => "upstream_broken",
        ProxyRequestOutcome.CacheHit => "cache_hit",
        _ => TelemetryConsts.Other,
    };

    private IEnumerable<Measurement<int>> ObserveProviderStates()
    {
        var providers = _registry.All;
        var measurements = new List<Measurement<int>>(providers.Length * ProviderHealthStateNames.All.Length);
        foreach (var provider in providers)
        {
            var current = ProviderHealthStateNames.Get(provider.GetSnapshot().State, provider.Enabled);
            foreach (var state in ProviderHealthStateNames.All)
            {
                measurements.Add(new Measurement<int>(
                    state == current ? 1 : 0,
                    new KeyValuePair<string, object?>(TelemetryConsts.GenAI.ProviderName, provider.Name),
                    new KeyValuePair<string, object?>(TelemetryConsts.Proxy.State, state)));
            }
        }

        return measurements;
    }

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
