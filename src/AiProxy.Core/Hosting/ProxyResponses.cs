using System.Collections.Frozen;
using System.Globalization;
using System.Net.Http.Headers;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Inbound;
using AiProxy.RateLimiting;
using AiProxy.Relay;
using Microsoft.Extensions.Primitives;

namespace AiProxy.Hosting;

/// <summary>Writes the proxy's own errors, the headers of relayed responses and the limits' headers through an
/// <see cref="IProxyResponseSink"/>: every status and header a client sees is decided here, whatever the host.</summary>
internal static class ProxyResponses
{
    public const string ProviderHeader = "x-aiproxy-provider";
    public const string AttemptsHeader = "x-aiproxy-attempts";
    public const string RouteHeader = "x-aiproxy-route";
    public const string RequestIdHeader = "x-request-id";
    public const string UpstreamRequestIdHeader = "x-upstream-request-id";
    public const string LimitRequestsHeader = "x-ratelimit-limit-requests";
    public const string RemainingRequestsHeader = "x-ratelimit-remaining-requests";
    public const string ResetRequestsHeader = "x-ratelimit-reset-requests";
    public const string LimitTokensHeader = "x-ratelimit-limit-tokens";
    public const string RemainingTokensHeader = "x-ratelimit-remaining-tokens";
    public const string ResetTokensHeader = "x-ratelimit-reset-tokens";
    public const string CostHeader = "x-aiproxy-cost";
    public const string BudgetRemainingHeader = "x-aiproxy-budget-remaining";
    public const string BudgetResetHeader = "x-aiproxy-budget-reset";
    public const string ShouldRetryHeader = "x-should-retry";
    private const string RateLimitHeaderPrefix = "x-ratelimit-";
    private const string ContentTypeHeader = "Content-Type";
    private const string ContentLengthHeader = "Content-Length";
    private const string ContentEncodingHeader = "Content-Encoding";
    private const string CacheControlHeader = "Cache-Control";
    private const string RetryAfterHeader = "Retry-After";
    private const string JsonContentType = "application/json";
    private const string EventStreamContentType = "text/event-stream";

    /// <summary>How an upstream response header is treated; anything not listed never reaches the client.</summary>
    private enum Relayed
    {
        AsIs,
        RequestId,
    }

    // An allow-list: what a provider adds beyond these (its organization, project, region, Azure's apim-*/x-ms-*, cookies)
    // describes the gateway's own account and infrastructure, not the caller's request. Content-Length and
    // Content-Encoding frame the bytes relayed as they are; x-ratelimit-* are matched by prefix.
    private static readonly FrozenDictionary<string, Relayed> RelayedHeaders = new Dictionary<string, Relayed>(StringComparer.OrdinalIgnoreCase)
    {
        ["Content-Type"] = Relayed.AsIs,
        ["Content-Length"] = Relayed.AsIs,
        ["Content-Encoding"] = Relayed.AsIs,
        ["Retry-After"] = Relayed.AsIs,
        ["openai-processing-ms"] = Relayed.AsIs,
        ["openai-version"] = Relayed.AsIs,
        [RequestIdHeader] = Relayed.RequestId,
        ["request-id"] = Relayed.RequestId,
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    /// <summary>Writes the proxy's own <paramref name="error"/> in the shape of the client's API (<paramref name="inbound"/>,
    /// OpenAI's when not given), with the routing headers of <paramref name="result"/> when there was an attempt, unless the
    /// response already started.</summary>
    public static Task WriteErrorAsync<TSink>(TSink sink, ProxyError error, CancellationToken aborted, ForwardResult? result = null, IInboundApi? inbound = null)
        where TSink : IProxyResponseSink
    {
        if (sink.HasStarted)
        {
            return Task.CompletedTask;
        }

        sink.Start(new ProxyResponseHead(error.Status, isEventStream: false));
        sink.SetHeader(ContentTypeHeader, JsonContentType);
        sink.SetHeader(RequestIdHeader, sink.RequestId);
        if (error.RetryAfterSeconds is { } retryAfter)
        {
            sink.SetHeader(RetryAfterHeader, retryAfter.ToString(CultureInfo.InvariantCulture));
        }

        if (error.ShouldRetry is { } shouldRetry)
        {
            sink.SetHeader(ShouldRetryHeader, shouldRetry ? "true" : "false");
        }

        if (result is not null)
        {
            AddRoutingHeaders(sink, result);
        }

        (inbound ?? OpenAiInboundApi.Instance).WriteError(sink.Body, error);
        return RelayFlush.TryFlushAsync(sink.Body, aborted).AsTask();
    }

    /// <summary>A 405 for the client's method, naming the methods allowed in <c>Allow</c>.</summary>
    public static Task WriteMethodNotAllowedAsync<TClient>(TClient client, string allow, IInboundApi? inbound = null)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        client.SetHeader("Allow", allow);
        return WriteErrorAsync(client, ProxyError.MethodNotAllowed(client.Method, client.Path), client.Aborted, null, inbound);
    }

    /// <summary>Starts a 200 JSON answer of the gateway's own (the model list, <c>/status</c>, token counts), with the request
    /// id; <paramref name="noStore"/> adds <c>Cache-Control: no-store</c>.</summary>
    public static void StartJson<TSink>(TSink sink, bool noStore = false)
        where TSink : IProxyResponseSink
    {
        sink.Start(new ProxyResponseHead(200, isEventStream: false));
        sink.SetHeader(ContentTypeHeader, JsonContentType);
        if (noStore)
        {
            sink.SetHeader(CacheControlHeader, "no-store");
        }

        sink.SetHeader(RequestIdHeader, sink.RequestId);
    }

    /// <summary>
    /// Writes the caller's limits as OpenAI's <c>x-ratelimit-*</c> headers, before anything else: a relayed response then
    /// keeps them over the upstream's (see <see cref="CopyHeaders"/>), whose numbers describe the gateway's own provider
    /// account rather than the caller. A kind the caller has no limit for is left to the upstream.
    /// </summary>
    public static void AddRateLimitHeaders<TSink>(TSink sink, ProxyRateLimitLease lease)
        where TSink : IProxyResponseSink
    {
        if (lease.Requests is { } requests)
        {
            sink.SetHeader(LimitRequestsHeader, requests.Limit.ToString(CultureInfo.InvariantCulture));
            sink.SetHeader(RemainingRequestsHeader, requests.Remaining.ToString(CultureInfo.InvariantCulture));
            sink.SetHeader(ResetRequestsHeader, FormatReset(requests.Reset));
        }

        if (lease.Tokens is { } tokens)
        {
            sink.SetHeader(LimitTokensHeader, tokens.Limit.ToString(CultureInfo.InvariantCulture));
            sink.SetHeader(RemainingTokensHeader, tokens.Remaining.ToString(CultureInfo.InvariantCulture));
            sink.SetHeader(ResetTokensHeader, FormatReset(tokens.Reset));
        }
    }

    /// <summary>The caller's budget: what is left of it (USD, invariant culture, this request's worst case reserved) and when
    /// its period ends (RFC 3339; none for a budget that never resets).</summary>
    public static void AddBudgetHeaders<TSink>(TSink sink, Budgets.BudgetHold budget)
        where TSink : IProxyResponseSink
    {
        if (budget.Caller is not { } caller)
        {
            return;
        }

        sink.SetHeader(BudgetRemainingHeader, budget.Remaining.ToString(CultureInfo.InvariantCulture));
        if (caller.ResetsAt is { } reset)
        {
            sink.SetHeader(BudgetResetHeader, reset.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture));
        }
    }

    /// <summary>This request's cost as <c>x-aiproxy-cost</c>, after <see cref="StartRelay"/> and before the body.</summary>
    public static void AddCostHeader<TSink>(TSink sink, decimal cost)
        where TSink : IProxyResponseSink
        => sink.SetHeader(CostHeader, cost.ToString(CultureInfo.InvariantCulture));

    /// <inheritdoc cref="RateLimitFormat.RetryAfterSeconds"/>
    public static int RetryAfterSeconds(TimeSpan retryAfter) => RateLimitFormat.RetryAfterSeconds(retryAfter);

    /// <inheritdoc cref="RateLimitFormat.FormatReset"/>
    public static string FormatReset(TimeSpan reset) => RateLimitFormat.FormatReset(reset);

    /// <summary>Starts relaying <paramref name="result"/>: its status and allowed headers, the routing headers, and for a
    /// stream whatever keeps every event from being buffered.</summary>
    public static void StartRelay<TSink>(TSink sink, ForwardResult result)
        where TSink : IProxyResponseSink
    {
        var upstream = result.Response!;
        sink.Start(new ProxyResponseHead((int)upstream.StatusCode, result.IsEventStream));
        CopyHeaders(upstream.Headers, sink);
        CopyHeaders(upstream.Content.Headers, sink);
        sink.SetHeader(RequestIdHeader, sink.RequestId);
        AddRoutingHeaders(sink, result);
        if (result.Translator is not null)
        {
            // The client gets other bytes than the provider sent: their length and media type are the translation's.
            sink.SetHeader(ContentLengthHeader, StringValues.Empty);
            sink.SetHeader(ContentEncodingHeader, StringValues.Empty);
            sink.SetHeader(ContentTypeHeader, result.IsEventStream ? EventStreamContentType : JsonContentType);
        }

        if (result.IsEventStream)
        {
            StartEventStream(sink);
        }
    }

    /// <summary>Starts a stored answer from the response cache: 200, its content type and length, the request id.</summary>
    public static void StartCached<TSink>(TSink sink, bool isEventStream, string contentType, long contentLength)
        where TSink : IProxyResponseSink
    {
        sink.Start(new ProxyResponseHead(200, isEventStream));
        sink.SetHeader(ContentTypeHeader, contentType);
        sink.SetHeader(RequestIdHeader, sink.RequestId);
        if (isEventStream)
        {
            StartEventStream(sink);
        }
        else
        {
            sink.SetHeader(ContentLengthHeader, contentLength.ToString(CultureInfo.InvariantCulture));
        }
    }

    private static void StartEventStream<TSink>(TSink sink)
        where TSink : IProxyResponseSink
    {
        // Every event must leave at once: no response buffering here (the sink's Start) or in a proxy in front of us.
        sink.SetHeader(ContentLengthHeader, StringValues.Empty);
        sink.SetHeader(CacheControlHeader, "no-cache");
        sink.SetHeader("X-Accel-Buffering", "no");
        if (!sink.HasHeader(ContentTypeHeader))
        {
            sink.SetHeader(ContentTypeHeader, EventStreamContentType);
        }
    }

    private static void AddRoutingHeaders<TSink>(TSink sink, ForwardResult result)
        where TSink : IProxyResponseSink
    {
        if (result.Provider is { } provider)
        {
            sink.SetHeader(ProviderHeader, provider.Name);
        }

        if (result.Attempts > 0)
        {
            sink.SetHeader(AttemptsHeader, result.Attempts.ToString(CultureInfo.InvariantCulture));
            sink.SetHeader(RouteHeader, result.Route);
        }
    }

    private static void CopyHeaders<TSink>(HttpHeaders source, TSink destination)
        where TSink : IProxyResponseSink
    {
        foreach (var header in source.NonValidated)
        {
            var name = header.Key;
            if (name.StartsWith(RateLimitHeaderPrefix, StringComparison.OrdinalIgnoreCase))
            {
                if (destination.HasHeader(name))
                {
                    continue; // the caller's own limit, written by the gateway, wins
                }
            }
            else if (!RelayedHeaders.TryGetValue(name, out var relayed))
            {
                continue;
            }
            else if (relayed == Relayed.RequestId)
            {
                // The gateway's x-request-id names this request; the provider's own id stays findable under another name.
                name = UpstreamRequestIdHeader;
            }

            var values = header.Value;
            destination.SetHeader(name, values.Count == 1 ? new StringValues(values.ToString()) : new StringValues(values.ToArray()));
        }
    }
}
