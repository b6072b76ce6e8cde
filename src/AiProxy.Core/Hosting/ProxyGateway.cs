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
/// client as one generic argument that is both the request (<see cref="IProxyClientRequest"/>, whose
/// <see cref="IProxyClientRequest.Aborted"/> stops the upstream spend when the client leaves) and its response
/// (<see cref="IProxyResponseSink"/>): implement it as a struct over the framework's context, so that a request allocates
/// nothing for it.
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
    /// <typeparam name="TClient">The host's adapter over its framework's request and response.</typeparam>
    /// <param name="client">The client's request and response.</param>
    /// <param name="path">The path after <c>/v1/</c> (<c>chat/completions</c>): what token scopes and metrics name.</param>
    /// <returns>A task that completes when the response is written.</returns>
    public Task ForwardModelRequestAsync<TClient>(TClient client, string path)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => _forwarding.HandleModelEndpointAsync(client, path);

    /// <summary>A <c>POST /v1/messages</c> of Anthropic's API: translated for the providers and back, errors in Anthropic's shape.</summary>
    /// <inheritdoc cref="ForwardModelRequestAsync" path="/typeparam"/>
    /// <param name="client">The client's request and response.</param>
    /// <returns>A task that completes when the response is written.</returns>
    public Task ForwardMessagesAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => _forwarding.HandleMessagesAsync(client);

    /// <summary>Any other <c>GET</c> or <c>POST</c> under <c>/v1/</c>, forwarded as it is: a JSON body is routed by its model,
    /// another by <c>X-Proxy-Provider</c> or the default strategy. An empty <paramref name="path"/> is answered 404.</summary>
    /// <inheritdoc cref="ForwardModelRequestAsync" path="/typeparam"/>
    /// <param name="client">The client's request and response.</param>
    /// <param name="path">The path after <c>/v1/</c>, as routed.</param>
    /// <returns>A task that completes when the response is written.</returns>
    public Task ForwardPassthroughAsync<TClient>(TClient client, string? path)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => _forwarding.HandlePassthroughAsync(client, path);

    /// <summary><c>POST /v1/messages/count_tokens</c>: the input tokens of a Messages request, nothing charged.</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task CountTokensAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => _countTokens.HandleAsync(client);

    /// <summary><c>GET /v1/models</c>: the models the caller may use (Anthropic's shape when the request has <c>anthropic-version</c>).</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task ListModelsAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => _models.HandleAsync(client);

    /// <summary><c>GET /v1/models/{id}</c>: one model of that list, else 404 <c>model_not_found</c>.</summary>
    /// <inheritdoc cref="ForwardModelRequestAsync" path="/typeparam"/>
    /// <param name="client">The client's request and response.</param>
    /// <param name="id">The model id as routed (an encoded <c>/</c> may still be encoded).</param>
    /// <returns>A task that completes when the response is written.</returns>
    public Task GetModelAsync<TClient>(TClient client, string? id)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => _models.HandleModelAsync(client, id);

    /// <summary><c>GET /status</c>: the gateway's and its providers' state, in the caller's view (admin, caller or anonymous).</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task StatusAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => _status.HandleAsync(client);

    /// <summary>The admin view of <c>/status</c>, for admin tokens only (the dashboard's <c>api/status</c>).</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public async Task AdminStatusAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (await _admin.AuthorizeAsync(client, "the dashboard").ConfigureAwait(false) is { } caller)
        {
            await _status.WriteStatusAsync(client, _options.CurrentValue, caller).ConfigureAwait(false);
        }
    }

    /// <summary><c>GET /status/history</c>: this instance's last hour per provider and last 100 requests, admin tokens only.</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task StatusHistoryAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => _history.HandleAsync(client);

    /// <summary>Today's usage by token and by model (the dashboard's <c>api/usage</c>), admin tokens only.</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task DailyUsageAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => _usage.HandleAsync(client);

    /// <summary>404 <c>not_found</c> for a path under the gateway that no endpoint serves.</summary>
    /// <inheritdoc cref="ForwardMessagesAsync"/>
    public Task NotFoundAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => ProxyRequestHandler.HandleNotFoundAsync(client);

    /// <summary>Whether a request target, as the client sent it (before the server decoded it or removed dot segments), is
    /// one the gateway serves: no dot segments, <c>;</c>, <c>\</c>, <c>//</c> or scheme, encoded or not.</summary>
    /// <param name="rawTarget">The raw path (and query) of the request line.</param>
    /// <param name="allowEncodedSlash">An encoded <c>/</c> is data (a model id in <c>/v1/models/{id}</c>), not a separator.</param>
    /// <returns><see langword="true"/> when the path is safe; otherwise answer it with <see cref="UnsafePathAsync"/>.</returns>
    public static bool IsSafeRawPath(string rawTarget, bool allowEncodedSlash = false)
        => EndpointPath.IsSafeRawPath(rawTarget, allowEncodedSlash);

    /// <summary>400 <c>invalid_request</c> for a path <see cref="IsSafeRawPath"/> refused.</summary>
    /// <typeparam name="TClient">The host's adapter over its framework's request and response.</typeparam>
    /// <param name="client">The client's request and response.</param>
    /// <returns>A task that completes when the response is written.</returns>
    public static Task UnsafePathAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
        => ProxyResponses.WriteErrorAsync(client, UnsafePath, client.Aborted);

    private static readonly ProxyError UnsafePath = ProxyError.BadRequest(EndpointPath.UnsafeMessage);
}
