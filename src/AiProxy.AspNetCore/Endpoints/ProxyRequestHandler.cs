using System.Globalization;
using AiProxy.Caching;
using AiProxy.Errors;
using AiProxy.Inbound;
using AiProxy.Pipeline;
using AiProxy.Protocols.Anthropic.Inbound;
using AiProxy.Providers;
using AiProxy.Requests;
using AiProxy.Selection;
using AiProxy.Telemetry;
using AiProxy.Tokens;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// The HTTP side of a gateway request: authenticate, read the X-Proxy-* headers, check the token's scope, read the body
/// once and inspect it, then hand it to Core's <see cref="ProxyExchange"/>, which admits, selects, attempts, relays,
/// settles and reports, writing through an <see cref="HttpResponseSink"/>.
/// </summary>
internal sealed class ProxyRequestHandler(
    ProxyExchange exchange,
    IClientSelector selector,
    ProviderRegistry registry,
    CallerAuthentication authentication,
    RequestBodyReader bodyReader,
    IOptionsMonitor<OpenAiProxyOptions> options,
    TimeProvider time,
    ProxyExchangeEvents events)
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

        return HandleAsync(context, path, requireModel: true, OpenAiInboundApi.Instance);
    }

    /// <summary><c>POST /v1/messages</c>: Anthropic's Messages API, translated for the providers and back for the client.</summary>
    public Task HandleMessagesAsync(HttpContext context)
    {
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.Headers.Allow = "POST";
            return ProxyHttpResponses.WriteErrorAsync(context, ProxyError.MethodNotAllowed(context.Request.Method, context.Request.Path), null, AnthropicInboundApi.Instance);
        }

        return HandleAsync(context, "messages", requireModel: true, AnthropicInboundApi.Instance);
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

        return HandleAsync(context, path, requireModel: false, OpenAiInboundApi.Instance);
    }

    public Task HandleNotFoundAsync(HttpContext context)
        => ProxyHttpResponses.WriteErrorAsync(context, ProxyError.NotFound(context.Request.Method, context.Request.Path));

    /// <param name="context">The request.</param>
    /// <param name="path">The route's path after <c>/v1/</c>: what token scopes and metrics name.</param>
    /// <param name="requireModel">The body must be JSON with a model.</param>
    /// <param name="inbound">The client's API: errors in its shape, its body translated when it is not OpenAI's.</param>
    private async Task HandleAsync(HttpContext context, string path, bool requireModel, IInboundApi inbound)
    {
        var started = time.GetTimestamp();
        using var requestTelemetry = events.StartRequest(path); // the request's activity, and aiproxy.active_requests
        var current = options.CurrentValue;
        var openAi = ReferenceEquals(inbound, OpenAiInboundApi.Instance);
        var caller = await authentication.AuthenticateAsync(context, current, acceptApiKeyHeader: !openAi).ConfigureAwait(false);
        if (caller is null)
        {
            await WriteErrorAsync(context, openAi ? CallerAuthentication.Unauthorized : CallerAuthentication.AnthropicUnauthorized, inbound).ConfigureAwait(false);
            return;
        }

        if (!TryReadProxyHeaders(context.Request, current, out var selection, out var timeout, out var headerError))
        {
            await WriteErrorAsync(context, headerError, inbound).ConfigureAwait(false);
            return;
        }

        var cacheDirectives = default(CacheDirectives);
        if ((current.Cache.Enabled || caller.Cache == true) && !TryReadCacheHeaders(context.Request, out cacheDirectives, out headerError))
        {
            await WriteErrorAsync(context, headerError, inbound).ConfigureAwait(false);
            return;
        }

        if (ScopeError(caller, path, selection) is { } scopeError)
        {
            await WriteErrorAsync(context, scopeError, inbound).ConfigureAwait(false);
            return;
        }

        var (body, bodyError) = await bodyReader.ReadAsync(context, caller, current).ConfigureAwait(false);
        if (body is null)
        {
            if (bodyError is not null)
            {
                await WriteErrorAsync(context, bodyError, inbound).ConfigureAwait(false);
            }

            return;
        }

        using (body)
        {
            // An API other than OpenAI's is translated into an OpenAI body here, once; the pipeline then runs it like any other.
            var translation = inbound.TranslateRequest(body.Memory, out var translationError);
            if (translationError is not null)
            {
                await WriteErrorAsync(context, translationError, inbound).ConfigureAwait(false);
                return;
            }

            using (translation)
            {
                RequestInspection inspection;
                string? contentType;
                if (translation is null)
                {
                    contentType = context.Request.ContentType;
                    if (!BodyInspection.TryInspect(contentType, body, requireModel, out inspection, out var inspectionError, out var boundary))
                    {
                        (inspection, inspectionError) = await BodyInspection.ReadFormAsync(body, boundary, context.RequestAborted).ConfigureAwait(false);
                    }

                    if (inspectionError is not null)
                    {
                        await WriteErrorAsync(context, inspectionError, inbound).ConfigureAwait(false);
                        return;
                    }
                }
                else
                {
                    contentType = "application/json";
                    inspection = translation.Inspection;
                    translation.NativeHeaders = CollectHeaders(context.Request, inbound.NativeHeaderNames);
                }

                if (requireModel && string.IsNullOrEmpty(inspection.Model))
                {
                    await WriteErrorAsync(context, ProxyError.BadRequest(
                        body.Length == 0 ? "The request needs a JSON body with a 'model'." : "You must provide a model parameter.", "model"), inbound).ConfigureAwait(false);
                    return;
                }

                if (ModelScopeError(caller, path, inspection.Model) is { } modelError)
                {
                    await WriteErrorAsync(context, modelError, inbound).ConfigureAwait(false);
                    return;
                }

                var upstreamPath = translation?.Path ?? path;
                var request = new ProxyRequest
                {
                    Method = context.Request.Method,
                    Path = upstreamPath,
                    QueryString = translation is null ? context.Request.QueryString.Value ?? string.Empty : string.Empty,
                    Body = translation?.Body.Memory ?? body.Memory,
                    HasBody = body.Length > 0 || HttpMethods.IsPost(context.Request.Method),
                    ContentType = requireModel ? "application/json" : contentType,
                    Inspection = inspection,
                    Selection = selection,
                    IsGeneration = IsGeneration(upstreamPath),
                    StartTimestamp = started,
                    Timeout = timeout,
                    ForwardedHeaders = CollectForwardedHeaders(context.Request),
                    Translation = translation,
                    CacheDirectives = cacheDirectives,
                };

                await exchange.RunAsync(request, caller, new HttpResponseSink(context, inbound), context.RequestAborted).ConfigureAwait(false);
            }
        }
    }

    private static Task WriteErrorAsync(HttpContext context, ProxyError error, IInboundApi inbound)
        => ProxyHttpResponses.WriteErrorAsync(context, error, null, inbound);

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
            if (!(selector is ClientSelector builtIn ? builtIn.TryGetStrategy(strategy, out _) : selector.StrategyNames.Contains(strategy, StringComparer.OrdinalIgnoreCase)))
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

    private static KeyValuePair<string, string>[] CollectHeaders(HttpRequest request, IReadOnlyList<string> names)
    {
        var found = new List<KeyValuePair<string, string>>();
        foreach (var name in names)
        {
            if (request.Headers.TryGetValue(name, out var value) && !StringValues.IsNullOrEmpty(value))
            {
                found.Add(new(name, value.ToString()));
            }
        }

        return [.. found];
    }

    /// <summary>The response cache's request headers, read only when the cache is on for the caller.</summary>
    private static bool TryReadCacheHeaders(HttpRequest request, out CacheDirectives directives, out ProxyError error)
    {
        var headers = request.Headers;
        var ttl = headers.TryGetValue(CacheDirectives.TtlHeader, out var ttlValue) ? ttlValue.ToString() : null;
        if (!CacheDirectives.TryParse(headers.CacheControl.ToString(), ttl, out directives, out var message))
        {
            error = ProxyError.BadRequest(message!);
            return false;
        }

        error = null!;
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
}
