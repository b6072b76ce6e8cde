using System.Buffers;
using System.Globalization;
using System.Net;
using System.Text;
using AiProxy.Errors;
using AiProxy.Health;
using AiProxy.Mapping;
using AiProxy.Providers;
using AiProxy.Selection;
using AiProxy.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;

namespace AiProxy.Forwarding;

/// <summary>
/// Sends a request to its candidates in order until one answers: maps the model, applies the per-attempt
/// timeout within the request's budget, moves on at once after a retryable failure, and returns either the
/// response to relay or the error to write. Nothing has reached the client when this returns.
/// </summary>
internal sealed partial class ProxyDispatcher
{
    private readonly ClientSelector _selector;
    private readonly ModelMappingService _mappings;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILogger<ProxyDispatcher> _logger;
    private readonly ProxyMetrics _metrics;

    public ProxyDispatcher(
        ClientSelector selector,
        ModelMappingService mappings,
        IOptionsMonitor<OpenAiProxyOptions> options,
        TimeProvider time,
        ILogger<ProxyDispatcher> logger,
        ProxyMetrics metrics)
    {
        _selector = selector;
        _mappings = mappings;
        _options = options;
        _time = time;
        _logger = logger;
        _metrics = metrics;
    }

    public async ValueTask<ForwardResult> ForwardAsync(ProxyRequest request, CancellationToken clientAborted)
    {
        if (!EndpointPath.IsSafe(request.Path))
        {
            return ForwardResult.Failed(ProxyError.BadRequest(EndpointPath.UnsafeMessage), 0, string.Empty);
        }

        var options = _options.CurrentValue;
        var candidates = ArrayPool<IProviderClient>.Shared.Rent(Math.Max(1, _selector.MaxCandidates));
        try
        {
            int count;
            bool panic;
            PendingFallbacks fallbacks;
            try
            {
                count = _selector.SelectFirst(request.Model, request.Selection, candidates, out panic, out fallbacks);
            }
            catch (ArgumentException ex)
            {
                return ForwardResult.Failed(ProxyError.BadRequest(ex.Message), 0, string.Empty);
            }

            if (count == 0)
            {
                return ForwardResult.Failed(
                    request.Model.Length > 0
                        ? ProxyError.ModelNotFound(request.Model)
                        : ProxyError.NoProviderAvailable("No enabled provider is configured for this request."),
                    0,
                    string.Empty);
            }

            if (panic)
            {
                LogPanic(_logger, request.Model);
            }

            var plan = new AttemptPlan(this, request, candidates, count, fallbacks, panic, options, _time.GetTimestamp(), clientAborted);
            var result = await RunAsync(plan, options, clientAborted).ConfigureAwait(false);
            if (result.Error is { } error)
            {
                LogRequestFailed(_logger, request.Model, result.Attempts, result.Route, error.Status, error.Code);
            }

            return result;
        }
        finally
        {
            ArrayPool<IProviderClient>.Shared.Return(candidates, clearArray: true);
        }
    }

    /// <summary>
    /// Runs the attempts. The first runs on its own: most requests are answered at once and then pay nothing for
    /// retrying. After a retryable failure the rest go through a Polly retry pipeline: it counts retries
    /// (<c>MaxRetries</c>) and waits (on the injected <see cref="TimeProvider"/>); the plan decides which provider
    /// is next and how long to wait: nothing when it switches provider, an exponential, jittered back-off before
    /// trying the same one again.
    /// </summary>
    private async ValueTask<ForwardResult> RunAsync(AttemptPlan plan, OpenAiProxyOptions options, CancellationToken clientAborted)
    {
        if (!plan.MoveNext())
        {
            return plan.Finish();
        }

        var first = await SendPlannedAttemptAsync(plan).ConfigureAwait(false);
        if (!first.IsRetryable || !plan.MoveNext())
        {
            return plan.Finish();
        }

        var context = ResilienceContextPool.Shared.Get(clientAborted);
        context.Properties.Set(PlanKey, plan);
        try
        {
            // The pipeline waits between its own attempts; the wait before its first is the plan's to take here.
            var delay = plan.NextDelay();
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, _time, clientAborted).ConfigureAwait(false);
            }

            var outcome = await GetPipeline(options).ExecuteOutcomeAsync(
                static async (ctx, p) => Outcome.FromResult(await p.Dispatcher.SendPlannedAttemptAsync(p).ConfigureAwait(false)),
                context,
                plan).ConfigureAwait(false);
            if (outcome.Exception is OperationCanceledException && clientAborted.IsCancellationRequested)
            {
                plan.Finish().Dispose(); // gives back a half-open trial claimed for an attempt that never ran
                return ForwardResult.Aborted(plan.Attempts, plan.Route);
            }

            outcome.ThrowIfException();
            return plan.Finish();
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            plan.Finish().Dispose();
            return ForwardResult.Aborted(plan.Attempts, plan.Route);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private static readonly ResiliencePropertyKey<AttemptPlan> PlanKey = new("aiproxy.plan");

    private ResiliencePipeline<AttemptOutcome> GetPipeline(OpenAiProxyOptions options)
    {
        var cached = _pipeline;
        if (cached is not null && cached.MaxRetries == options.MaxRetries)
        {
            return cached.Pipeline;
        }

        var pipeline = new ResiliencePipelineBuilder<AttemptOutcome> { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions<AttemptOutcome>
            {
                MaxRetryAttempts = Math.Max(1, options.MaxRetries),
                ShouldHandle = static args => ValueTask.FromResult(
                    args.Outcome.Result.IsRetryable && args.Context.Properties.GetValue(PlanKey, null!).MoveNext()),
                DelayGenerator = static args =>
                {
                    var plan = args.Context.Properties.GetValue(PlanKey, null!);
                    return ValueTask.FromResult<TimeSpan?>(plan.NextDelay());
                },
            })
            .Build();
        _pipeline = new CachedPipeline(options.MaxRetries, pipeline);
        return pipeline;
    }

    private static readonly TimeSpan RetryBaseDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan RetryMaxDelay = TimeSpan.FromSeconds(10);
    private CachedPipeline? _pipeline;

    private sealed record CachedPipeline(int MaxRetries, ResiliencePipeline<AttemptOutcome> Pipeline);

    private async ValueTask<AttemptOutcome> SendPlannedAttemptAsync(AttemptPlan plan)
    {
        var provider = plan.Current!;
        var remaining = plan.Remaining;
        if (remaining <= TimeSpan.Zero)
        {
            plan.BudgetExhausted();
            return AttemptOutcome.Stop;
        }

        var attemptTimeout = Min(Min(plan.Options.DefaultTimeout, plan.Options.MaxTimeout), remaining);
        if (plan.LastProvider is { } previous && !ReferenceEquals(previous, provider))
        {
            _metrics.RecordFallback(previous.Name, provider.Name, plan.LastOutcome);
        }

        // Current while the attempt is sent: its context is the trace context the provider gets.
        var telemetry = AttemptTelemetry.Start(_metrics, _time, plan.Request.Path, provider.Name, plan.Attempts + 1);
        var outcome = await SendAttemptAsync(plan.Request, provider, attemptTimeout, plan.Panic, plan.Attempts + 1, telemetry, plan.ClientAborted).ConfigureAwait(false);
        if (telemetry is not null)
        {
            if (outcome.Result is { } accepted)
            {
                telemetry.Accepted(accepted, outcome.Label);
            }
            else
            {
                telemetry.Failed(outcome.Label);
            }
        }

        plan.Record(outcome);
        if (outcome.Error is not null)
        {
            LogAttemptFailed(_logger, plan.Attempts, provider.Name, plan.Request.Model, outcome.Label);
        }

        return outcome;
    }

    private async ValueTask<AttemptOutcome> SendAttemptAsync(
        ProxyRequest request, ProviderClient provider, TimeSpan timeout, bool panic, int attempt, AttemptTelemetry? telemetry, CancellationToken clientAborted)
    {
        if (!provider.TryEnterFlight())
        {
            // A reload retired the provider after this request chose it, and its last request released the handler:
            // the instance that replaced it (same name, new settings) takes the attempt; a provider removed is skipped.
            if (EnterSuccessor(provider) is not { } successor)
            {
                return AttemptOutcome.Failed(
                    ProxyError.NoProviderAvailable($"Provider '{provider.Name}' was removed by a configuration reload."), "removed", repeatAllowed: false);
            }

            provider = successor;
        }

        using var attemptCts = new CancellationTokenSource(timeout, _time);
        using var abortRegistration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), attemptCts);
        HttpRequestMessage message;
        string? providerModel;
        bool usageInjected;
        try
        {
            (message, providerModel, usageInjected) = BuildUpstreamRequest(request, provider, traceFromActivity: telemetry?.Activity is not null);
        }
        catch
        {
            provider.LeaveFlight();
            throw;
        }

        telemetry?.Sending(providerModel);
        var health = provider.Health;
        var sentAt = _time.GetTimestamp();
        if (attempt == 1)
        {
            _metrics.RecordOverhead(_time.GetElapsedTime(request.StartTimestamp, sentAt), ProxyTracing.OperationName(request.Path));
        }

        HttpResponseMessage? response = null;
        var handedOff = false;
        try
        {
            response = await provider.SendCoreAsync(message, attemptCts.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            var latency = _time.GetElapsedTime(sentAt);
            var timeToFirstByte = _time.GetElapsedTime(request.StartTimestamp);
            if (UpstreamStatus.IsSuccess(status))
            {
                var (accepted, failure) = await AcceptAsync(request, provider, providerModel, usageInjected, response, attemptCts.Token).ConfigureAwait(false);
                if (accepted is null)
                {
                    health.RecordFailure(FailureKind.Stream, failure!.Code);
                    return AttemptOutcome.Failed(failure, failure.Code == "upstream_empty_stream" ? "empty" : "stream_error", repeatAllowed: true);
                }

                response = null;
                handedOff = true;
                health.RecordSuccess(latency);
                accepted.TimeToFirstByte = timeToFirstByte;
                if (accepted.IsEventStream)
                {
                    accepted.TimeToFirstEvent = _time.GetElapsedTime(request.StartTimestamp);
                }

                return AttemptOutcome.Success(accepted, status);
            }

            if (UpstreamStatus.IsRedirect(status))
            {
                // Relaying it would hand the client the provider's internal URL; following it could carry the key elsewhere.
                var redirectLabel = status.ToString(CultureInfo.InvariantCulture);
                health.RecordFailure(FailureKind.Status, redirectLabel);
                return AttemptOutcome.Failed(
                    new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_redirect", $"Provider '{provider.Name}' answered with a redirect ({redirectLabel}), which the gateway does not follow."),
                    redirectLabel,
                    repeatAllowed: false);
            }

            if (!UpstreamStatus.IsRetryable(status))
            {
                // The caller's problem (400, 413, 422...): relay it unchanged. The provider answered, so it is healthy.
                var body = await response.Content.ReadAsStreamAsync(attemptCts.Token).ConfigureAwait(false);
                var result = ForwardResult.Relay(response, body, provider, providerModel);
                result.TimeToFirstByte = timeToFirstByte;
                response = null;
                handedOff = true;
                health.RecordSuccess(latency);
                return AttemptOutcome.Success(result, status);
            }

            var error = await UpstreamErrorReader.ReadAsync(response, provider, attemptCts.Token).ConfigureAwait(false);
            var label = status.ToString(CultureInfo.InvariantCulture);
            switch (status)
            {
                case 404:
                    // A bogus model name must not cool the provider down for everyone: only this pair.
                    health.RecordModelNotFound(request.Model);
                    return AttemptOutcome.Failed(error, label, repeatAllowed: false);
                case 401 or 403:
                    health.RecordFailure(FailureKind.Credentials, label);
                    return AttemptOutcome.Failed(error, label, repeatAllowed: false);
                default:
                    var retryAfter = status == 429 && error.RetryAfterSeconds is { } seconds && response.Headers.RetryAfter is not null
                        ? TimeSpan.FromSeconds(seconds)
                        : (TimeSpan?)null;
                    health.RecordFailure(FailureKind.Status, label, retryAfter);
                    return AttemptOutcome.Failed(error, label, repeatAllowed: true, retryAfter);
            }
        }
        catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
        {
            health.RecordNeutral();
            return AttemptOutcome.Aborted;
        }
        catch (OperationCanceledException) when (attemptCts.IsCancellationRequested)
        {
            // Never retried on the same provider: it may still be working on (and billing) the request.
            health.RecordFailure(FailureKind.Timeout, "timeout");
            return AttemptOutcome.Failed(
                ProxyError.Timeout($"Provider '{provider.Name}' did not answer within {timeout.TotalSeconds:0.###} s."), "timeout", repeatAllowed: false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Connection failures, and anything else an upstream's bytes could provoke: never a 500, the next candidate.
            if (ex is not (HttpRequestException or IOException or OperationCanceledException or ObjectDisposedException))
            {
                LogAttemptError(_logger, provider.Name, ex.GetType().Name);
            }

            health.RecordFailure(FailureKind.Connection, "connection");
            return AttemptOutcome.Failed(
                new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_unreachable", $"Provider '{provider.Name}' could not be reached."),
                "error",
                repeatAllowed: true);
        }
        finally
        {
            response?.Dispose();
            message.Dispose();
            if (!handedOff)
            {
                provider.LeaveFlight();
            }
        }
    }

    private static ProviderClient? EnterSuccessor(ProviderClient retired)
    {
        for (var next = retired.Successor; next is not null; next = next.Successor)
        {
            if (next.TryEnterFlight())
            {
                return next;
            }
        }

        return null;
    }

    /// <summary>
    /// Takes a successful response. A stream is only accepted once its first data event arrived within the
    /// attempt timeout, and is not an error event, so that a stream that never really starts still falls back.
    /// </summary>
    private static async ValueTask<(ForwardResult? Result, ProxyError? Failure)> AcceptAsync(
        ProxyRequest request, ProviderClient provider, string? providerModel, bool usageInjected, HttpResponseMessage response, CancellationToken attemptToken)
    {
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        var isEventStream = string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase)
            || (mediaType is null && request.Inspection.Stream);
        var body = await response.Content.ReadAsStreamAsync(attemptToken).ConfigureAwait(false);
        if (!isEventStream)
        {
            return (ForwardResult.Relay(response, body, provider, providerModel), null);
        }

        var events = new EventStreamRelay(body, dropUsageChunk: usageInjected, expectDone: request.IsGeneration, new UsageData());
        try
        {
            var (first, errorPayload) = await events.ReadFirstEventAsync(attemptToken).ConfigureAwait(false);
            switch (first)
            {
                case EventStreamRelay.FirstEvent.Ready:
                    return (ForwardResult.RelayEvents(response, body, events, provider, providerModel), null);
                case EventStreamRelay.FirstEvent.Ended:
                    events.Dispose();
                    return (null, new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_empty_stream", $"Provider '{provider.Name}' ended the stream before sending any data."));
                default:
                    events.Dispose();
                    return (null, UpstreamErrorReader.FromStreamError(errorPayload, provider));
            }
        }
        catch
        {
            events.Dispose();
            await body.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Bodies larger than this are sent with <c>Expect: 100-continue</c> (see <see cref="ProviderClient"/>'s wait for it).</summary>
    internal const int ExpectContinueThreshold = 1024 * 1024;

    private static ReadOnlySpan<byte> IncludeUsageMember => "\"stream_options\":{\"include_usage\":true}"u8;

    private static readonly byte[] AppendStreamOptions = [(byte)',', .. IncludeUsageMember];
    private static readonly byte[] TrueToken = "true"u8.ToArray();
    private static readonly byte[] StreamOptionsObject = "{\"include_usage\":true}"u8.ToArray();
    private static readonly byte[] IncludeUsageOnly = "\"include_usage\":true"u8.ToArray();
    private static readonly byte[] IncludeUsageFirst = "\"include_usage\":true,"u8.ToArray();

    private (HttpRequestMessage Message, string? ProviderModel, bool UsageInjected) BuildUpstreamRequest(
        ProxyRequest request, ProviderClient provider, bool traceFromActivity)
    {
        var uri = request.QueryString.Length == 0 ? provider.EndpointUri(request.Path) : new Uri(provider.BaseUrl, request.Path + request.QueryString);
        if (!EndpointPath.IsUnder(provider.BaseUrl, uri))
        {
            // Unreachable after EndpointPath.IsSafe; kept so that no path can ever carry the key elsewhere.
            throw new InvalidOperationException("The endpoint path left the provider's base URL.");
        }

        var message = new HttpRequestMessage(ToMethod(request.Method), uri)
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };

        // The attempt's activity, when there is one, is the upstream's parent; otherwise the client's context passes through.
        traceFromActivity = traceFromActivity && ProxyTracing.TryInjectTraceContext(message);
        foreach (var header in request.ForwardedHeaders)
        {
            if (!traceFromActivity || !ProxyTracing.IsTraceContextHeader(header.Key))
            {
                message.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        provider.ApplyUpstreamHeaders(message);
        var providerModel = request.Inspection.Model;
        var usageInjected = false;
        if (request.HasBody)
        {
            var inspection = request.Inspection;
            var modelEdit = BodyEdit.None;
            if (inspection.ModelTokenStart >= 0 && inspection.Model is not null && _mappings.TryGetEntry(provider.Name, inspection.Model, out var mapping))
            {
                modelEdit = new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, mapping.EncodedProviderModel);
                providerModel = mapping.ProviderModel;
            }

            var usageEdit = BodyEdit.None;
            if (inspection.Stream && !inspection.IncludeUsage && request.IsGeneration && provider.Options.IncludeStreamUsage)
            {
                usageEdit = StreamUsageEdit(inspection);
                usageInjected = !usageEdit.IsNone;
            }

            message.Content = new SplicedContent(request.Body, modelEdit, usageEdit, request.ContentType);
            if (request.Body.Length > ExpectContinueThreshold)
            {
                // Over HTTP/1.1 a response sent before the upload ended (a 413 from the provider's front end) is only
                // handed back once the whole body went out, if ever: asking first lets the refusal arrive instead.
                message.Headers.ExpectContinue = true;
            }
        }

        return (message, providerModel, usageInjected);
    }

    /// <summary>The splice that turns on <c>stream_options.include_usage</c>, wherever the body stands on it.</summary>
    private static BodyEdit StreamUsageEdit(in RequestInspection inspection)
    {
        if (inspection.StreamOptionsStart < 0)
        {
            return inspection.StreamOptionsValueStart >= 0
                ? new BodyEdit(inspection.StreamOptionsValueStart, inspection.StreamOptionsValueLength, StreamOptionsObject)
                : new BodyEdit(inspection.ObjectEnd, 0, AppendStreamOptions);
        }

        if (inspection.IncludeUsageValueStart >= 0)
        {
            return inspection.IncludeUsageValueLength > 0
                ? new BodyEdit(inspection.IncludeUsageValueStart, inspection.IncludeUsageValueLength, TrueToken)
                : BodyEdit.None;
        }

        return new BodyEdit(inspection.StreamOptionsStart + 1, 0, inspection.StreamOptionsEmpty ? IncludeUsageOnly : IncludeUsageFirst);
    }

    private static HttpMethod ToMethod(string method) => method switch
    {
        "POST" => HttpMethod.Post,
        "GET" => HttpMethod.Get,
        _ => HttpMethod.Parse(method),
    };

    private static string AppendRoute(ref StringBuilder? route, string current, string provider, string label)
    {
        if (current.Length == 0)
        {
            return string.Concat(provider, ":", label);
        }

        route ??= new StringBuilder(current);
        route.Append(',').Append(provider).Append(':').Append(label);
        return route.ToString();
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a <= b ? a : b;

    [LoggerMessage(1, LogLevel.Warning, "Attempt {Attempt} to provider {Provider} for model {Model} failed: {Outcome}.")]
    private static partial void LogAttemptFailed(ILogger logger, int attempt, string provider, string model, string outcome);

    [LoggerMessage(4, LogLevel.Warning, "Provider {Provider} sent a response the gateway could not process ({Error}); trying the next candidate.")]
    private static partial void LogAttemptError(ILogger logger, string provider, string error);

    [LoggerMessage(2, LogLevel.Warning, "Every provider for model {Model} is cooling down: trying them all (panic).")]
    private static partial void LogPanic(ILogger logger, string model);

    [LoggerMessage(3, LogLevel.Warning, "No provider answered model {Model} after {Attempts} attempts ({Route}): the client gets {Status} {Code}.")]
    private static partial void LogRequestFailed(ILogger logger, string model, int attempts, string route, int status, string code);

    private readonly record struct AttemptOutcome(
        ForwardResult? Result, ProxyError? Error, string Label, bool ClientAborted, bool RepeatAllowed, TimeSpan? RetryAfter)
    {
        public static AttemptOutcome Aborted => new(null, null, "cancelled", true, false, null);

        /// <summary>Nothing was sent: the request's budget ran out.</summary>
        public static AttemptOutcome Stop => new(null, null, "budget", false, false, null);

        /// <summary>A failure worth another attempt (on another provider, or this one after a back-off).</summary>
        public bool IsRetryable => Error is not null;

        public static AttemptOutcome Success(ForwardResult result, int status)
            => new(result, null, status.ToString(CultureInfo.InvariantCulture), false, false, null);

        public static AttemptOutcome Failed(ProxyError error, string label, bool repeatAllowed, TimeSpan? retryAfter = null)
            => new(null, error, label, false, repeatAllowed, retryAfter);
    }
}
