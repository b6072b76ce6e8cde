using System.Collections.Frozen;
using System.Globalization;
using System.Net.Http.Headers;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Inbound;
using AiProxy.RateLimiting;
using AiProxy.Relay;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>Writes the proxy's own errors and the headers of relayed responses onto <see cref="HttpResponse"/>.</summary>
internal static class ProxyHttpResponses
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
    /// OpenAI's when not given), unless the response already started.</summary>
    public static Task WriteErrorAsync(HttpContext context, ProxyError error, ForwardResult? result = null, IInboundApi? inbound = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return Task.CompletedTask;
        }

        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        response.Headers[RequestIdHeader] = context.TraceIdentifier;
        if (error.RetryAfterSeconds is { } retryAfter)
        {
            response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        }

        if (error.ShouldRetry is { } shouldRetry)
        {
            response.Headers[ShouldRetryHeader] = shouldRetry ? "true" : "false";
        }

        if (result is not null)
        {
            AddRoutingHeaders(response, result);
        }

        (inbound ?? OpenAiInboundApi.Instance).WriteError(response.BodyWriter, error);
        return RelayFlush.TryFlushAsync(response.BodyWriter, context.RequestAborted).AsTask();
    }

    /// <summary>
    /// Writes the caller's limits as OpenAI's <c>x-ratelimit-*</c> headers, before anything else: a relayed response then
    /// keeps them over the upstream's (see <see cref="CopyHeaders"/>), whose numbers describe the gateway's own provider
    /// account rather than the caller. A kind the caller has no limit for is left to the upstream.
    /// </summary>
    public static void AddRateLimitHeaders(HttpResponse response, ProxyRateLimitLease lease)
    {
        var headers = response.Headers;
        if (lease.Requests is { } requests)
        {
            headers[LimitRequestsHeader] = requests.Limit.ToString(CultureInfo.InvariantCulture);
            headers[RemainingRequestsHeader] = requests.Remaining.ToString(CultureInfo.InvariantCulture);
            headers[ResetRequestsHeader] = FormatReset(requests.Reset);
        }

        if (lease.Tokens is { } tokens)
        {
            headers[LimitTokensHeader] = tokens.Limit.ToString(CultureInfo.InvariantCulture);
            headers[RemainingTokensHeader] = tokens.Remaining.ToString(CultureInfo.InvariantCulture);
            headers[ResetTokensHeader] = FormatReset(tokens.Reset);
        }
    }

    /// <summary>The caller's budget: what is left of it (USD, invariant culture, this request's worst case reserved) and when
    /// its period ends (RFC 3339; none for a budget that never resets).</summary>
    public static void AddBudgetHeaders(HttpResponse response, Budgets.BudgetHold budget)
    {
        if (budget.Caller is not { } caller)
        {
            return;
        }

        response.Headers[BudgetRemainingHeader] = budget.Remaining.ToString(CultureInfo.InvariantCulture);
        if (caller.ResetsAt is { } reset)
        {
            response.Headers[BudgetResetHeader] = reset.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        }
    }

    /// <inheritdoc cref="RateLimitFormat.RetryAfterSeconds"/>
    public static int RetryAfterSeconds(TimeSpan retryAfter) => RateLimitFormat.RetryAfterSeconds(retryAfter);

    /// <inheritdoc cref="RateLimitFormat.FormatReset"/>
    public static string FormatReset(TimeSpan reset) => RateLimitFormat.FormatReset(reset);

    public static void StartRelay(HttpContext context, ForwardResult result)
    {
        var upstream = result.Response!;
        var response = context.Response;
        response.StatusCode = (int)upstream.StatusCode;
        CopyHeaders(upstream.Headers, response.Headers);
        CopyHeaders(upstream.Content.Headers, response.Headers);
        response.Headers[RequestIdHeader] = context.TraceIdentifier;
        AddRoutingHeaders(response, result);
        if (result.Translator is not null)
        {
            // The client gets other bytes than the provider sent: their length and media type are the translation's.
            response.Headers.ContentLength = null;
            response.Headers.ContentEncoding = default;
            response.ContentType = result.IsEventStream ? "text/event-stream" : "application/json";
        }

        if (result.IsEventStream)
        {
            // Every event must leave at once: no response buffering here or in a proxy in front of us.
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            response.Headers.ContentLength = null;
            response.Headers.CacheControl = "no-cache";
            response.Headers["X-Accel-Buffering"] = "no";
            if (StringValues.IsNullOrEmpty(response.Headers.ContentType))
            {
                response.ContentType = "text/event-stream";
            }
        }
    }

    private static void AddRoutingHeaders(HttpResponse response, ForwardResult result)
    {
        if (result.Provider is { } provider)
        {
            response.Headers[ProviderHeader] = provider.Name;
        }

        if (result.Attempts > 0)
        {
            response.Headers[AttemptsHeader] = result.Attempts.ToString(CultureInfo.InvariantCulture);
            response.Headers[RouteHeader] = result.Route;
        }
    }

    private static void CopyHeaders(HttpHeaders source, IHeaderDictionary destination)
    {
        foreach (var header in source.NonValidated)
        {
            var name = header.Key;
            if (name.StartsWith(RateLimitHeaderPrefix, StringComparison.OrdinalIgnoreCase))
            {
                if (destination.ContainsKey(name))
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
            destination[name] = values.Count == 1 ? new StringValues(values.ToString()) : new StringValues(values.ToArray());
        }
    }
}
