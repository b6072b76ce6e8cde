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
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace AiProxy.Hosting;

/// <summary>
/// The front of a forwarded request, whatever the host: authenticate, read the X-Proxy-* headers, check the token's scope,
/// read the body once and inspect it, then hand it to <see cref="ProxyExchange"/>, which admits, selects, attempts, relays,
/// settles and reports, writing through the host's <see cref="IProxyResponseSink"/>.
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
    public Task HandleModelEndpointAsync<TClient>(TClient client, string path)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (!ClientMethods.IsPost(client))
        {
            return ProxyResponses.WriteMethodNotAllowedAsync(client, "POST");
        }

        return HandleAsync(client, path, requireModel: true, OpenAiInboundApi.Instance);
    }

    /// <summary><c>POST /v1/messages</c>: Anthropic's Messages API, translated for the providers and back for the client.</summary>
    public Task HandleMessagesAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (!ClientMethods.IsPost(client))
        {
            return ProxyResponses.WriteMethodNotAllowedAsync(client, "POST", AnthropicInboundApi.Instance);
        }

        return HandleAsync(client, "messages", requireModel: true, AnthropicInboundApi.Instance);
    }

    private static bool IsGeneration(string path) => path is "chat/completions" or "completions";

    /// <summary>Any other <c>GET</c>/<c>POST</c> under <c>/v1/</c>, forwarded as it is.</summary>
    public Task HandlePassthroughAsync<TClient>(TClient client, string? path)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (!ClientMethods.IsPost(client) && !ClientMethods.IsGet(client))
        {
            return ProxyResponses.WriteMethodNotAllowedAsync(client, "GET, POST");
        }

        if (string.IsNullOrEmpty(path))
        {
            return HandleNotFoundAsync(client);
        }

        return HandleAsync(client, path, requireModel: false, OpenAiInboundApi.Instance);
    }

    public static Task HandleNotFoundAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => ProxyResponses.WriteErrorAsync(client, ProxyError.NotFound(client.Method, client.Path), client.Aborted);

    /// <param name="client">The client's request and response.</param>
    /// <param name="path">The route's path after <c>/v1/</c>: what token scopes and metrics name.</param>
    /// <param name="requireModel">The body must be JSON with a model.</param>
    /// <param name="inbound">The client's API: errors in its shape, its body translated when it is not OpenAI's.</param>
    private async Task HandleAsync<TClient>(TClient client, string path, bool requireModel, IInboundApi inbound)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        var started = time.GetTimestamp();
        using var requestTelemetry = events.StartRequest(path); // the request's activity, and aiproxy.active_requests
        var current = options.CurrentValue;
        var openAi = ReferenceEquals(inbound, OpenAiInboundApi.Instance);
        var caller = await authentication.AuthenticateAsync(client, current, acceptApiKeyHeader: !openAi).ConfigureAwait(false);
        if (caller is null)
        {
            await WriteErrorAsync(client, openAi ? CallerAuthentication.Unauthorized : CallerAuthentication.AnthropicUnauthorized, inbound).ConfigureAwait(false);
            return;
        }

        if (!TryReadProxyHeaders(client, current, out var selection, out var timeout, out var headerError))
        {
            await WriteErrorAsync(client, headerError, inbound).ConfigureAwait(false);
            return;
        }

        var cacheDirectives = default(CacheDirectives);
        if ((current.Cache.Enabled || caller.Cache == true) && !TryReadCacheHeaders(client, out cacheDirectives, out headerError))
        {
            await WriteErrorAsync(client, headerError, inbound).ConfigureAwait(false);
            return;
        }

        if (ScopeError(caller, path, selection) is { } scopeError)
        {
            await WriteErrorAsync(client, scopeError, inbound).ConfigureAwait(false);
            return;
        }

        var (body, bodyError) = await bodyReader.ReadAsync(client, caller, current).ConfigureAwait(false);
        if (body is null)
        {
            if (bodyError is not null)
            {
                await WriteErrorAsync(client, bodyError, inbound).ConfigureAwait(false);
            }

            return;
        }

        using (body)
        {
            // An API other than OpenAI's is translated into an OpenAI body here, once; the pipeline then runs it like any other.
            var translation = inbound.TranslateRequest(body.Memory, out var translationError);
            if (translationError is not null)
            {
                await WriteErrorAsync(client, translationError, inbound).ConfigureAwait(false);
                return;
            }

            using (translation)
            {
                RequestInspection inspection;
                string? contentType;
                if (translation is null)
                {
                    contentType = client.ContentType;
                    if (!BodyInspection.TryInspect(contentType, body, requireModel, out inspection, out var inspectionError, out var boundary))
                    {
                        (inspection, inspectionError) = await BodyInspection.ReadFormAsync(client, body, boundary).ConfigureAwait(false);
                    }

                    if (inspectionError is not null)
                    {
                        await WriteErrorAsync(client, inspectionError, inbound).ConfigureAwait(false);
                        return;
                    }
                }
                else
                {
                    contentType = "application/json";
                    inspection = translation.Inspection;
                    translation.NativeHeaders = CollectHeaders(client, inbound.NativeHeaderNames);
                }

                if (requireModel && string.IsNullOrEmpty(inspection.Model))
                {
                    await WriteErrorAsync(client, ProxyError.BadRequest(
                        body.Length == 0 ? "The request needs a JSON body with a 'model'." : "You must provide a model parameter.", "model"), inbound).ConfigureAwait(false);
                    return;
                }

                if (ModelScopeError(caller, path, inspection.Model) is { } modelError)
                {
                    await WriteErrorAsync(client, modelError, inbound).ConfigureAwait(false);
                    return;
                }

                var upstreamPath = translation?.Path ?? path;
                var forwarded = new ProxyRequest
                {
                    Method = client.Method,
                    Path = upstreamPath,
                    QueryString = translation is null ? client.QueryString : string.Empty,
                    Body = translation?.Body.Memory ?? body.Memory,
                    HasBody = body.Length > 0 || ClientMethods.IsPost(client),
                    ContentType = requireModel ? "application/json" : contentType,
                    Inspection = inspection,
                    Selection = selection,
                    IsGeneration = IsGeneration(upstreamPath),
                    StartTimestamp = started,
                    Timeout = timeout,
                    ForwardedHeaders = CollectForwardedHeaders(client),
                    Translation = translation,
                    CacheDirectives = cacheDirectives,
                };

                await exchange.RunAsync(forwarded, caller, client, client.Aborted).ConfigureAwait(false);
            }
        }
    }

    private static Task WriteErrorAsync<TClient>(TClient client, ProxyError error, IInboundApi inbound)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => ProxyResponses.WriteErrorAsync(client, error, client.Aborted, null, inbound);

    private bool TryReadProxyHeaders<TRequest>(TRequest client, OpenAiProxyOptions current, out SelectionContext selection, out TimeSpan? timeout, out ProxyError error)
        where TRequest : IProxyClientRequest
    {
        selection = default;
        timeout = null;
        error = null!;
        string? strategy = null, provider = null;
        if (client.TryGetHeader(StrategyHeader, out var strategyValue))
        {
            strategy = strategyValue.ToString().Trim();
            if (!(selector is ClientSelector builtIn ? builtIn.TryGetStrategy(strategy, out _) : selector.StrategyNames.Contains(strategy, StringComparer.OrdinalIgnoreCase)))
            {
                error = ProxyError.BadRequest($"Invalid {StrategyHeader} '{strategy}'. Valid: {string.Join(", ", selector.StrategyNames)}.");
                return false;
            }
        }

        if (client.TryGetHeader(ProviderHeader, out var providerValue))
        {
            provider = providerValue.ToString().Trim();
            if (registry.Find(provider) is null)
            {
                error = ProxyError.BadRequest($"Invalid {ProviderHeader} '{provider}': no such provider.");
                return false;
            }
        }

        if (client.TryGetHeader(TimeoutHeader, out var timeoutValue))
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

    private static KeyValuePair<string, string>[] CollectHeaders<TRequest>(TRequest client, IReadOnlyList<string> names)
        where TRequest : IProxyClientRequest
    {
        var found = new List<KeyValuePair<string, string>>();
        foreach (var name in names)
        {
            if (client.TryGetHeader(name, out var value) && !StringValues.IsNullOrEmpty(value))
            {
                found.Add(new(name, value.ToString()));
            }
        }

        return [.. found];
    }

    /// <summary>The response cache's request headers, read only when the cache is on for the caller.</summary>
    private static bool TryReadCacheHeaders<TRequest>(TRequest client, out CacheDirectives directives, out ProxyError error)
        where TRequest : IProxyClientRequest
    {
        var ttl = client.TryGetHeader(CacheDirectives.TtlHeader, out var ttlValue) ? ttlValue.ToString() : null;
        client.TryGetHeader("Cache-Control", out var cacheControl);
        if (!CacheDirectives.TryParse(cacheControl.ToString(), ttl, out directives, out var message))
        {
            error = ProxyError.BadRequest(message!);
            return false;
        }

        error = null!;
        return true;
    }

    private static KeyValuePair<string, string>[] CollectForwardedHeaders<TRequest>(TRequest client)
        where TRequest : IProxyClientRequest
    {
        // An allow-list: the client's credentials, cookies and X-Proxy-* never reach a provider.
        var count = 0;
        Span<int> present = stackalloc int[ForwardedHeaderNames.Length];
        for (var i = 0; i < ForwardedHeaderNames.Length; i++)
        {
            if (client.TryGetHeader(ForwardedHeaderNames[i], out var value) && !StringValues.IsNullOrEmpty(value))
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
            client.TryGetHeader(name, out var value);
            result[i] = new(name, value.ToString());
        }

        return result;
    }

    internal static readonly string[] ForwardedHeaderNames = ["Accept", "User-Agent", "traceparent", "tracestate"];

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
