using System.Globalization;
using AiProxy.Errors;
using AiProxy.Forwarding;
using AiProxy.Providers;
using AiProxy.RateLimiting;
using AiProxy.Selection;
using AiProxy.Telemetry;
using AiProxy.Tokens;
using AiProxy.Usage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// The HTTP side of a gateway request: authenticate, read the body once, inspect it, hand it to the
/// dispatcher, then relay the chosen response or write the proxy's error. Everything from selection to the
/// upstream call lives in Core.
/// </summary>
internal sealed partial class ProxyRequestHandler(
    ProxyDispatcher dispatcher,
    ClientSelector selector,
    ProviderRegistry registry,
    CallerAuthentication authentication,
    RequestBodyReader bodyReader,
    IProxyRateLimiter rateLimiter,
    UsageReporter usageReporter,
    IOptionsMonitor<OpenAiProxyOptions> options,
    TimeProvider time,
    ILogger<ProxyRequestHandler> logger,
    ProxyMetrics metrics)
{
    public const string StrategyHeader = "X-Proxy-Strategy";
    public const string TimeoutHeader = "X-Proxy-Timeout";
    public const string ProviderHeader = "X-Proxy-Provider";

    /// <summary><c>POST /v1/chat/completions</c>, <c>/v1/completions</c>, <c>/v1/embeddings</c>: a JSON body with a model.</summary>
    public Task HandleModelEndpointAsync(HttpContext context, string path)
    {
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.Headers.Allow = "POST";
            return ProxyHttpResponses.WriteErrorAsync(context, ProxyError.MethodNotAllowed(context.Request.Method, context.Request.Path));
        }

        return HandleAsync(context, path, requireModel: true);
    }

    private static bool IsGeneration(string path) => path is "chat/completions" or "completions";

    /// <summary>Any other <c>GET</c>/<c>POST</c> under <c>/v1/</c>, forwarded as it is.</summary>
    public Task HandlePassthroughAsync(HttpContext context)
    {
        var method = context.Request.Method;
        if (!HttpMethods.IsPost(method) && !HttpMethods.IsGet(method))
        {
            context.Response.Headers.Allow = "GET, POST";
            return ProxyHttpResponses.WriteErrorAsync(context, ProxyError.MethodNotAllowed(method, context.Request.Path));
        }

        var path = context.Request.RouteValues["path"] as string;
        if (string.IsNullOrEmpty(path))
        {
            return HandleNotFoundAsync(context);
        }

        return HandleAsync(context, path, requireModel: false);
    }

    public Task HandleNotFoundAsync(HttpContext context)
        => ProxyHttpResponses.WriteErrorAsync(context, ProxyError.NotFound(context.Request.Method, context.Request.Path));

    private async Task HandleAsync(HttpContext context, string path, bool requireModel)
    {
        var started = time.GetTimestamp();
        using var requestTelemetry = metrics.StartRequest(path); // the request's activity, and aiproxy.active_requests
        var current = options.CurrentValue;
        var caller = await authentication.AuthenticateAsync(context, current).ConfigureAwait(false);
        if (caller is null)
        {
            await ProxyHttpResponses.WriteErrorAsync(context, CallerAuthentication.Unauthorized).ConfigureAwait(false);
            return;
        }

        if (!TryReadProxyHeaders(context.Request, current, out var selection, out var timeout, out var headerError))
        {
            await ProxyHttpResponses.WriteErrorAsync(context, headerError).ConfigureAwait(false);
            return;
        }

        if (ScopeError(caller, path, selection) is { } scopeError)
        {
            await ProxyHttpResponses.WriteErrorAsync(context, scopeError).ConfigureAwait(false);
            return;
        }

        var (body, bodyError) = await bodyReader.ReadAsync(context, caller, current).ConfigureAwait(false);
        if (body is null)
        {
            if (bodyError is not null)
            {
                await ProxyHttpResponses.WriteErrorAsync(context, bodyError).ConfigureAwait(false);
            }

            return;
        }

        using (body)
        {
            var contentType = context.Request.ContentType;
            if (!BodyInspection.TryInspect(contentType, body, requireModel, out var inspection, out var inspectionError, out var boundary))
            {
                (inspection, inspectionError) = await BodyInspection.ReadFormAsync(body, boundary, context.RequestAborted).ConfigureAwait(false);
            }

            if (inspectionError is not null)
            {
                await ProxyHttpResponses.WriteErrorAsync(context, inspectionError).ConfigureAwait(false);
                return;
            }

            if (requireModel && string.IsNullOrEmpty(inspection.Model))
            {
                await ProxyHttpResponses.WriteErrorAsync(context, ProxyError.BadRequest(
                    body.Length == 0 ? "The request needs a JSON body with a 'model'." : "You must provide a model parameter.", "model")).ConfigureAwait(false);
                return;
            }

            if (ModelScopeError(caller, path, inspection.Model) is { } modelError)
            {
                await ProxyHttpResponses.WriteErrorAsync(context, modelError).ConfigureAwait(false);
                return;
            }

            // One limiter call per request: the caller's limits and the candidate providers' capacity.
            // A request without a body (a GET) asks for no generation; one that is not JSON reserves only a completion.
            var estimate = body.Length == 0 ? 0 : RequestTokenEstimate.Estimate(body.Length, inspection, DefaultCompletionTokens(inspection, selection, caller.Providers, current), isText: inspection.IsJson);
            var lease = await AcquireAsync(caller, inspection.Model ?? string.Empty, selection, estimate, context.RequestAborted).ConfigureAwait(false);
            await using var leaseScope = lease.ConfigureAwait(false);
            ProxyHttpResponses.AddRateLimitHeaders(context.Response, lease);
            if (!lease.IsAcquired)
            {
                LogRateLimited(logger, context.Request.Method, path, inspection.Model ?? string.Empty, caller.Name, lease.Reason, ProxyHttpResponses.RetryAfterSeconds(lease.RetryAfter));
                metrics.RecordRateLimited(caller.Name, lease.Reason);
                await ProxyHttpResponses.WriteErrorAsync(context, RateLimited(lease, estimate)).ConfigureAwait(false);
                return;
            }

            var request = new ProxyRequest
            {
                Method = context.Request.Method,
                Path = path,
                QueryString = context.Request.QueryString.Value ?? string.Empty,
                Body = body.Memory,
                HasBody = body.Length > 0 || HttpMethods.IsPost(context.Request.Method),
                ContentType = requireModel ? "application/json" : contentType,
                Inspection = inspection,
                Selection = selection with { Capacity = lease, AllowedProviders = caller.Providers },
                IsGeneration = IsGeneration(path),
                StartTimestamp = started,
                Timeout = timeout,
                ForwardedHeaders = CollectForwardedHeaders(context.Request),
            };

            using var result = await dispatcher.ForwardAsync(request, context.RequestAborted).ConfigureAwait(false);
            var outcome = await RespondAsync(context, path, result, current).ConfigureAwait(false);
            var elapsed = time.GetElapsedTime(started);
            LogRequest(logger, context.Request.Method, path, request.Model, caller.Name, context.Response.StatusCode,
                result.Provider?.Name ?? "-", result.Attempts, elapsed.TotalMilliseconds);
            var tokens = MeasureUsage(request, result);
            await lease.SettleAsync(result.Provider?.Name, TokensToSettle(result, tokens), CancellationToken.None).ConfigureAwait(false);
            await lease.DisposeAsync().ConfigureAwait(false); // free the slots now, not after the observers
            if (usageReporter.HasObservers)
            {
                await usageReporter.ReportAsync(BuildUsageRecord(context, request, caller, result, outcome, elapsed, tokens), CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    private async Task<ProxyRequestOutcome> RespondAsync(HttpContext context, string path, ForwardResult result, OpenAiProxyOptions current)
    {
        if (result.ClientAborted)
        {
            return ProxyRequestOutcome.ClientDisconnected;
        }

        if (result.Error is { } error)
        {
            await ProxyHttpResponses.WriteErrorAsync(context, error, result).ConfigureAwait(false);
            return ProxyRequestOutcome.Failed;
        }

        ProxyHttpResponses.StartRelay(context, result);
        var outcome = await ResponseRelay.CopyAsync(
            result, context.Response.BodyWriter, current.StreamIdleTimeout, current.ClientWriteTimeout, time, context.RequestAborted).ConfigureAwait(false);
        switch (outcome)
        {
            case RelayOutcome.Completed:
                // Finish the response now, so nothing after it (observers) delays the client's end of stream.
                await context.Response.CompleteAsync().ConfigureAwait(false);
                return ProxyRequestOutcome.Completed;
            case RelayOutcome.ClientAborted:
                return ProxyRequestOutcome.ClientDisconnected;
            case RelayOutcome.ClientTooSlow:
                // The client's problem: the provider answered fine, so its health is left alone; the connection is dropped
                // so that neither the upstream call nor the bytes waiting for this client are held any longer.
                LogClientTooSlow(logger, context.Request.Method, path, current.ClientWriteTimeout.TotalSeconds, result.Provider?.Name ?? "-");
                context.Abort();
                return ProxyRequestOutcome.ClientDisconnected;
            default:
                LogRelayBroken(logger, result.Provider?.Name ?? "-", outcome);
                if (result.IsEventStream)
                {
                    await context.Response.CompleteAsync().ConfigureAwait(false);
                }
                else
                {
                    // A truncated JSON body cannot be marked as such: end the connection so the client sees the failure.
                    context.Abort();
                }

                return ProxyRequestOutcome.UpstreamBroken;
        }
    }

    /// <summary>The tokens a request used: as reported, or for a stream that ended without a usage chunk, estimated.</summary>
    private static TokenUsage? MeasureUsage(ProxyRequest request, ForwardResult result)
    {
        var usage = result.Usage;
        if (usage.HasUsage)
        {
            return new TokenUsage(usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens, IsEstimate: false);
        }

        if (result.IsEventStream)
        {
            // A stream that ended without a usage chunk: about one token per content event, the prompt as estimated.
            var prompt = RequestTokenEstimate.PromptTokens(request.Body.Length);
            long completion = usage.DataEvents;
            return new TokenUsage(prompt, completion, prompt + completion, IsEstimate: true);
        }

        return null;
    }

    /// <summary>What settles the token reservation: nothing used when no provider answered or it refused the request
    /// (a relayed 4xx), the usage when known, else <see langword="null"/> so the estimate stands.</summary>
    private static long? TokensToSettle(ForwardResult result, TokenUsage? tokens)
    {
        if (result.Response is not { } response || !UpstreamStatus.IsSuccess((int)response.StatusCode))
        {
            return 0;
        }

        return tokens?.TotalTokens;
    }

    private async ValueTask<ProxyRateLimitLease> AcquireAsync(
        ProxyCaller caller, string model, SelectionContext selection, long estimate, CancellationToken cancellationToken)
    {
        var providers = ProviderCapacities(model, selection, caller.Providers);
        if (caller.Limits.IsUnlimited && providers.Length == 0)
        {
            return UnlimitedLease.Instance;
        }

        return await rateLimiter.AcquireAsync(
            new ProxyRateLimitRequest { Partition = caller.Partition, Limits = caller.Limits, EstimatedTokens = estimate, Providers = providers },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The completion a request that sets no maximum reserves: the largest <c>DefaultCompletionTokens</c> among its
    /// candidates the caller may reach (a provider's own, else the root value), since any of them may answer.</summary>
    private int DefaultCompletionTokens(in RequestInspection inspection, SelectionContext selection, ProviderScope? scope, OpenAiProxyOptions current)
    {
        var fallback = current.DefaultCompletionTokens;
        if (RequestTokenEstimate.HasCompletionLimit(inspection))
        {
            return fallback; // not used
        }

        ReadOnlySpan<ProviderClient> candidates = selection.Provider is { } pinned
            ? (registry.Find(pinned) is { } found ? [found] : [])
            : selector.ServingProviders(inspection.Model ?? string.Empty);
        var largest = -1;
        foreach (var provider in candidates)
        {
            if (scope is null || scope.Allows(provider.Name))
            {
                largest = Math.Max(largest, provider.DefaultCompletionTokens ?? fallback);
            }
        }

        return largest < 0 ? fallback : largest;
    }

    /// <summary>The candidates for <paramref name="model"/> with their capacity, or none at all when no candidate has a
    /// capacity limit (the common case, which then allocates nothing). The candidates are the selector's cached set.</summary>
    private ProxyProviderCapacity[] ProviderCapacities(string model, SelectionContext selection, ProviderScope? scope)
    {
        ReadOnlySpan<ProviderClient> candidates = selection.Provider is { } pinned
            ? (registry.Find(pinned) is { } found ? [found] : [])
            : selector.ServingProviders(model);
        var limited = false;
        var reachable = 0;
        foreach (var provider in candidates)
        {
            if (scope is null || scope.Allows(provider.Name))
            {
                limited |= !provider.Capacity.IsUnlimited;
                reachable++;
            }
        }

        if (!limited)
        {
            return [];
        }

        // Only the providers the caller's token may reach: the capacity of the others is not this request's to take.
        var result = new ProxyProviderCapacity[reachable];
        var count = 0;
        foreach (var provider in candidates)
        {
            if (scope is null || scope.Allows(provider.Name))
            {
                result[count++] = new ProxyProviderCapacity(provider.Name, provider.Capacity);
            }
        }

        return result;
    }

    private static ProxyError RateLimited(ProxyRateLimitLease lease, long estimate)
    {
        if (lease.Reason == ProxyRateLimitReason.Unavailable)
        {
            // A limiter that fails closed (its shared store is down): the gateway's trouble, not the caller's, so 503.
            return new ProxyError(StatusCodes.Status503ServiceUnavailable, "server_error", "rate_limiter_unavailable",
                "The gateway cannot check rate limits right now. Please try again shortly.")
            {
                RetryAfterSeconds = ProxyHttpResponses.RetryAfterSeconds(lease.RetryAfter),
            };
        }

        var wait = ProxyHttpResponses.FormatReset(lease.RetryAfter);
        var message = lease.Reason switch
        {
            ProxyRateLimitReason.Requests =>
                $"Rate limit reached for requests per minute (limit {lease.Requests?.Limit}). Please try again in {wait}.",
            ProxyRateLimitReason.Tokens =>
                $"Rate limit reached for tokens per minute (limit {lease.Tokens?.Limit}, remaining {lease.Tokens?.Remaining}, this request needs about {estimate}). Please try again in {wait}.",
            ProxyRateLimitReason.ConcurrentRequests =>
                $"Too many concurrent requests for this caller. Please try again in {wait}.",
            _ => $"Every provider that serves this model is at capacity. Please try again in {wait}.",
        };

        return new ProxyError(StatusCodes.Status429TooManyRequests, RateLimitExceeded, RateLimitExceeded, message)
        {
            RetryAfterSeconds = ProxyHttpResponses.RetryAfterSeconds(lease.RetryAfter),
        };
    }

    private const string RateLimitExceeded = "rate_limit_exceeded";

    private static ProxyUsageRecord BuildUsageRecord(
        HttpContext context, ProxyRequest request, ProxyCaller caller, ForwardResult result, ProxyRequestOutcome outcome, TimeSpan elapsed, TokenUsage? tokens)
        => new()
        {
            RequestId = context.TraceIdentifier,
            Caller = caller.Name,
            Endpoint = request.Path,
            Provider = result.Provider?.Name,
            RequestedModel = request.Inspection.Model,
            ProviderModel = result.ProviderModel,
            ResponseModel = result.Usage.ResponseModel,
            StatusCode = outcome == ProxyRequestOutcome.ClientDisconnected ? 499 : context.Response.StatusCode,
            Stream = request.Inspection.Stream,
            Attempts = result.Attempts,
            Outcome = outcome,
            Duration = elapsed,
            TimeToFirstByte = result.TimeToFirstByte,
            TimeToFirstEvent = result.TimeToFirstEvent,
            Usage = tokens,
        };

    private bool TryReadProxyHeaders(HttpRequest request, OpenAiProxyOptions current, out SelectionContext selection, out TimeSpan? timeout, out ProxyError error)
    {
        selection = default;
        timeout = null;
        error = null!;
        string? strategy = null, provider = null;
        var headers = request.Headers;
        if (headers.TryGetValue(StrategyHeader, out var strategyValue))
        {
            strategy = strategyValue.ToString().Trim();
            if (!selector.TryGetStrategy(strategy, out _))
            {
                error = ProxyError.BadRequest($"Invalid {StrategyHeader} '{strategy}'. Valid: {string.Join(", ", selector.StrategyNames)}.");
                return false;
            }
        }

        if (headers.TryGetValue(ProviderHeader, out var providerValue))
        {
            provider = providerValue.ToString().Trim();
            if (registry.Find(provider) is null)
            {
                error = ProxyError.BadRequest($"Invalid {ProviderHeader} '{provider}': no such provider.");
                return false;
            }
        }

        if (headers.TryGetValue(TimeoutHeader, out var timeoutValue))
        {
            if (!double.TryParse(timeoutValue.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds)
                || !double.IsFinite(seconds) || seconds <= 0 || seconds > current.MaxTimeout.TotalSeconds)
            {
                error = ProxyError.BadRequest(
                    $"Invalid {TimeoutHeader} '{timeoutValue}': a number of seconds greater than 0 and at most {current.MaxTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)}.");
                return false;
            }

            timeout = TimeSpan.FromSeconds(seconds);
        }

        selection = new SelectionContext(strategy, provider);
        return true;
    }

    private static KeyValuePair<string, string>[] CollectForwardedHeaders(HttpRequest request)
    {
        // An allow-list: the client's credentials, cookies and X-Proxy-* never reach a provider.
        var headers = request.Headers;
        var count = 0;
        Span<int> present = stackalloc int[ForwardedHeaderNames.Length];
        for (var i = 0; i < ForwardedHeaderNames.Length; i++)
        {
            if (headers.TryGetValue(ForwardedHeaderNames[i], out var value) && !StringValues.IsNullOrEmpty(value))
            {
                present[count++] = i;
            }
        }

        if (count == 0)
        {
            return [];
        }

        var result = new KeyValuePair<string, string>[count];
        for (var i = 0; i < count; i++)
        {
            var name = ForwardedHeaderNames[present[i]];
            result[i] = new(name, headers[name].ToString());
        }

        return result;
    }

    internal static readonly string[] ForwardedHeaderNames = [HeaderNames.Accept, HeaderNames.UserAgent, "traceparent", "tracestate"];

    /// <summary>The path a token's <c>AllowedPaths</c> are matched against: the request's path after the prefix.</summary>
    private static string ScopePath(string path) => "/v1/" + path;

    /// <summary>The refusal for a caller whose token does not allow <paramref name="path"/> or the pinned provider; null when allowed.
    /// Checked before the body is read.</summary>
    private static ProxyError? ScopeError(ProxyCaller caller, string path, SelectionContext selection)
    {
        if (caller.AllowedPaths.Count > 0 && ScopePath(path) is var scopePath && !caller.MayCall(scopePath))
        {
            return ProxyError.PathNotAllowed(scopePath);
        }

        return selection.Provider is { } pinned && !caller.MayReach(pinned) ? ProxyError.ProviderNotAllowed(pinned) : null;
    }

    /// <summary>The refusal for a model the caller may not use, or for a request whose model cannot be known (files,
    /// batches, uploads without a model) from a caller limited to some models, unless its <c>AllowedPaths</c> list the path.</summary>
    private static ProxyError? ModelScopeError(ProxyCaller caller, string path, string? model)
    {
        if (!string.IsNullOrEmpty(model))
        {
            return caller.MayUse(model) ? null : ProxyError.ModelNotAllowed(model);
        }

        if (caller.AllowedModels.Count == 0)
        {
            return null; // spares building the path for the callers that have no model scope
        }

        var scopePath = ScopePath(path);
        return caller.MayCallWithoutModel(scopePath) ? null : ProxyError.ModelUnknown(scopePath);
    }

    [LoggerMessage(1, LogLevel.Information, "{Method} {Path} model={Model} token={Token} -> {Status} provider={Provider} attempts={Attempts} in {ElapsedMs:0.0} ms")]
    private static partial void LogRequest(ILogger logger, string method, string path, string model, string token, int status, string provider, int attempts, double elapsedMs);

    [LoggerMessage(2, LogLevel.Warning, "The response from provider {Provider} broke after it had started: {Outcome}.")]
    private static partial void LogRelayBroken(ILogger logger, string provider, RelayOutcome outcome);

    [LoggerMessage(11, LogLevel.Warning, "Client did not read the response to {Method} {Path} for {Seconds} s (ClientWriteTimeout); disconnected it. Provider {Provider} is not blamed.")]
    private static partial void LogClientTooSlow(ILogger logger, string method, string path, double seconds, string provider);

    [LoggerMessage(10, LogLevel.Information, "{Method} {Path} model={Model} token={Token} refused by the rate limiter: {Reason}, retry after {RetryAfterSeconds} s")]
    private static partial void LogRateLimited(ILogger logger, string method, string path, string model, string token, ProxyRateLimitReason reason, int retryAfterSeconds);
}
