using System.Globalization;
using System.Net.Http.Headers;
using AiProxy.Errors;
using AiProxy.Forwarding;
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

    // Connection-level headers are the proxy's own business on each leg; cookies from a provider are not the client's.
    private static readonly HashSet<string> NotRelayed = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Alt-Svc", "Set-Cookie", "Server", RequestIdHeader,
    };

    public static Task WriteErrorAsync(HttpContext context, ProxyError error, ForwardResult? result = null)
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

        if (result is not null)
        {
            AddRoutingHeaders(response, result);
        }

        ProxyErrorWriter.WriteJson(response.BodyWriter, error);
        return response.BodyWriter.FlushAsync(context.RequestAborted).AsTask();
    }

    public static void StartRelay(HttpContext context, ForwardResult result)
    {
        var upstream = result.Response!;
        var response = context.Response;
        response.StatusCode = (int)upstream.StatusCode;
        CopyHeaders(upstream.Headers, response.Headers);
        CopyHeaders(upstream.Content.Headers, response.Headers);
        if (upstream.Headers.NonValidated.TryGetValues(RequestIdHeader, out var upstreamId))
        {
            response.Headers[UpstreamRequestIdHeader] = upstreamId.ToString();
        }

        response.Headers[RequestIdHeader] = context.TraceIdentifier;
        AddRoutingHeaders(response, result);
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
            if (NotRelayed.Contains(header.Key))
            {
                continue;
            }

            var values = header.Value;
            destination[header.Key] = values.Count == 1 ? new StringValues(values.ToString()) : new StringValues(values.ToArray());
        }
    }
}
