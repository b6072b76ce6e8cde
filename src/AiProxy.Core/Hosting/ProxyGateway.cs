using System.ComponentModel;
using AiProxy.Errors;
using AiProxy.Providers;
using AiProxy.Requests;
using Microsoft.Extensions.Options;

namespace AiProxy.Hosting;

/// <summary>
/// The gateway's endpoints for a host package: each entry point runs one client request, read through an
/// <see cref="IProxyClientRequest"/> and answered through an <see cref="IProxyResponseSink"/>, and decides every status,
/// header and byte the client gets (errors included, in the shape of the client's API). A host maps its routes onto these
/// and adapts its framework's request and response; it needs nothing else from Core. AiProxy.AspNetCore is such a host.
/// </summary>
/// <remarks>
/// Registered as a singleton by <c>AddOpenAiProxyCore</c> (which <c>AddOpenAiProxy</c> calls). Every entry point takes the
/// request and the sink as generic arguments (implement them as structs: a request allocates nothing for them) and a
/// token that fires when the client leaves, which stops the upstream spend.
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public sealed class ProxyGateway
{
    private readonly ProxyRequestHandler _forwarding;
    private readonly ModelsEndpoint _models;
    private readonly CountTokensEndpoint _countTokens;
    private readonly StatusEndpoint _status;
    private readonly StatusHistoryEndpoint _history;
    private readonly UsageEndpoint _usage;
    private readonly AdminAccess _admin;
    private readonly ProviderRegistry _registry;
    private readonly IOptionsMonitor<OpenAiProxyOptions> _options;

    internal ProxyGateway(
        ProxyRequestHandler forwarding,
        ModelsEndpoint models,
        CountTokensEndpoint countTokens,
        StatusEndpoint status,
        StatusHistoryEndpoint history,
        UsageEndpoint usage,
        AdminAccess admin,
        ProviderRegistry registry,
        IOptionsMonitor<OpenAiProxyOptions> options)
    {
        _forwarding = forwarding;
        _models = models;
        _countTokens = countTokens;
        _status = status;
        _history = history;
        _usage = usage;
        _admin = admin;
        _registry = registry;
        _options = options;
    }

    /// <summary>The configured providers, for a host's health check: their names, whether they are enabled, and their state
    /// (<see cref="IProviderClient.GetSnapshot"/>). Never a key.</summary>
    public IReadOnlyList<IProviderClient> Providers => _registry.All;

    /// <summary>A <c>POST</c> of OpenAI's API whose JSON body names a model (<c>chat/completions</c>, <c>completions</c>,
    /// <c>embeddings</c>): authenticated, limited, forwarded with fallback, relayed, settled and reported.</summary>
    /// <typeparam name="TRequest">The host's request adapter.</typeparam>
    /// <typeparam name="TSink">The host's response adapter.</typeparam>
    /// <param name="request">The client's request.</param>
    /// <param name="response">The client's response.</param>
    /// <param name="path">The path after <c>/v1/</c> (<c>chat/completions</c>): what token scopes and metrics name.</param>
    /// <param name="aborted">Fires when the client leaves.</param>
    /// <returns>A task that completes when the response is written.</returns>
    public Task ForwardModelRequestAsync<TRequest, TSink>(TRequest request, TSink response, string path, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => _forwarding.HandleModelEndpointAsync(request, response, path, aborted);

    /// <summary>A <c>POST /v1/messages</c> of Anthropic's API: translated for the providers and back, errors in Anthropic's shape.</summary>
    /// <inheritdoc cref="ForwardModelRequestAsync" path="/typeparam"/>
    /// <param name="request">The client's request.</param>
    /// <param name="response">The client's response.</param>
    /// <param name="aborted">Fires when the client leaves.</param>
    /// <returns>A task that completes when the response is written.</returns>
    public Task ForwardMessagesAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => _forwarding.HandleMessagesAsync(request, response, aborted);

    /// <summary>Any other <c>GET</c> or <c>POST</c> under <c>/v1/</c>, forwarded as it is: a JSON body is routed by its model,
    /// another by <c>X-Proxy-Provider</c> or the default strategy. An empty <paramref name="path"/> is answered 404.</summary>
    /// <inheritdoc cref="ForwardModelRequestAsync" path="/typeparam"/>
    /// <param name="request">The client's request.</param>
    /// <param name="response">The client's response.</param>
    /// <param name="path">The path after <c>/v1/</c>, as routed.</param>
    /// <param name="aborted">Fires when the client leaves.</param>
    /// <returns>A task that completes when the response is written.</returns>
    public Task ForwardPassthroughAsync<TRequest, TSink>(TRequest request, TSink response, string? path, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => _forwarding.HandlePassthroughAsync(request, response, path, aborted);

    /// <summary><c>POST /v1/messages/count_tokens</c>: the input tokens of a Messages request, nothing charged.</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task CountTokensAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => _countTokens.HandleAsync(request, response, aborted);

    /// <summary><c>GET /v1/models</c>: the models the caller may use (Anthropic's shape when the request has <c>anthropic-version</c>).</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task ListModelsAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => _models.HandleAsync(request, response, aborted);

    /// <summary><c>GET /v1/models/{id}</c>: one model of that list, else 404 <c>model_not_found</c>.</summary>
    /// <inheritdoc cref="ForwardModelRequestAsync" path="/typeparam"/>
    /// <param name="request">The client's request.</param>
    /// <param name="response">The client's response.</param>
    /// <param name="id">The model id as routed (an encoded <c>/</c> may still be encoded).</param>
    /// <param name="aborted">Fires when the client leaves.</param>
    /// <returns>A task that completes when the response is written.</returns>
    public Task GetModelAsync<TRequest, TSink>(TRequest request, TSink response, string? id, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => _models.HandleModelAsync(request, response, id, aborted);

    /// <summary><c>GET /status</c>: the gateway's and its providers' state, in the caller's view (admin, caller or anonymous).</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task StatusAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => _status.HandleAsync(request, response, aborted);

    /// <summary>The admin view of <c>/status</c>, for admin tokens only (the dashboard's <c>api/status</c>).</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public async Task AdminStatusAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
    {
        if (await _admin.AuthorizeAsync(request, response, "the dashboard", aborted).ConfigureAwait(false) is { } caller)
        {
            await _status.WriteStatusAsync(response, _options.CurrentValue, caller, aborted).ConfigureAwait(false);
        }
    }

    /// <summary><c>GET /status/history</c>: this instance's last hour per provider and last 100 requests, admin tokens only.</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task StatusHistoryAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => _history.HandleAsync(request, response, aborted);

    /// <summary>Today's usage by token and by model (the dashboard's <c>api/usage</c>), admin tokens only.</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task DailyUsageAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => _usage.HandleAsync(request, response, aborted);

    /// <summary>404 <c>not_found</c> for a path under the gateway that no endpoint serves.</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task NotFoundAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
        => ProxyRequestHandler.HandleNotFoundAsync(request, response, aborted);

    /// <summary>Whether a request target, as the client sent it (before the server decoded it or removed dot segments), is
    /// one the gateway serves: no dot segments, <c>;</c>, <c>\</c>, <c>//</c> or scheme, encoded or not.</summary>
    /// <param name="rawTarget">The raw path (and query) of the request line.</param>
    /// <param name="allowEncodedSlash">An encoded <c>/</c> is data (a model id in <c>/v1/models/{id}</c>), not a separator.</param>
    /// <returns><see langword="true"/> when the path is safe; otherwise answer it with <see cref="UnsafePathAsync"/>.</returns>
    public static bool IsSafeRawPath(string rawTarget, bool allowEncodedSlash = false)
        => EndpointPath.IsSafeRawPath(rawTarget, allowEncodedSlash);

    /// <summary>400 <c>invalid_request</c> for a path <see cref="IsSafeRawPath"/> refused.</summary>
    /// <typeparam name="TSink">The host's response adapter.</typeparam>
    /// <param name="response">The client's response.</param>
    /// <param name="aborted">Fires when the client leaves.</param>
    /// <returns>A task that completes when the response is written.</returns>
    public static Task UnsafePathAsync<TSink>(TSink response, CancellationToken aborted)
        where TSink : IProxyResponseSink
        => ProxyResponses.WriteErrorAsync(response, UnsafePath, aborted);

    private static readonly ProxyError UnsafePath = ProxyError.BadRequest(EndpointPath.UnsafeMessage);
}
