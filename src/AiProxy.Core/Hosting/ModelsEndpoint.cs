using System.Buffers;
using System.Text.Json;
using AiProxy.Errors;
using AiProxy.Inbound;
using AiProxy.Protocols.Anthropic.Inbound;
using AiProxy.Providers;
using AiProxy.Tokens;
using Microsoft.Extensions.Options;

namespace AiProxy.Hosting;

/// <summary>
/// <c>GET /v1/models</c>: OpenAI's list of the models the caller's token may use, across the enabled providers it may
/// reach and their mappings, with <c>owned_by</c> naming the provider that serves the model first; and
/// <c>GET /v1/models/{id}</c>, one model of that list. A request with <c>anthropic-version</c> (an Anthropic client) gets
/// Anthropic's shapes, its errors too, and may send its token as <c>x-api-key</c>.
/// </summary>
internal sealed class ModelsEndpoint(CallerAuthentication authentication, ModelCatalog catalog, IOptionsMonitor<OpenAiProxyOptions> options)
{
    /// <summary>The longest model id looked up, as for a <c>model</c> in a request body.</summary>
    private const int MaxModelIdBytes = 256;

    /// <summary><c>GET /v1/models</c>.</summary>
    public async Task HandleAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
    {
        if (await AuthenticateAsync(request, response, aborted).ConfigureAwait(false) is not { } caller)
        {
            return;
        }

        var models = catalog.GetModels(caller);
        ProxyResponses.StartJson(response);
        if (IsAnthropic(request))
        {
            AnthropicModelList.WriteList(response.Body, models);
        }
        else
        {
            WriteList(response.Body, models);
        }

        await response.Body.FlushAsync(aborted).ConfigureAwait(false);
    }

    /// <summary><c>GET /v1/models/{id}</c> (the SDKs' <c>models.retrieve</c>): the model as <c>/v1/models</c> lists it for
    /// the caller, else 404 <c>model_not_found</c>, whether the model does not exist or the caller's token may not see it.</summary>
    public async Task HandleModelAsync<TRequest, TSink>(TRequest request, TSink response, string? routeId, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
    {
        if (await AuthenticateAsync(request, response, aborted).ConfigureAwait(false) is not { } caller)
        {
            return;
        }

        // Routing leaves an encoded '/' encoded; model ids such as 'meta-llama/Llama-3.1-8B' hold one.
        var id = (routeId ?? string.Empty).Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        if (System.Text.Encoding.UTF8.GetByteCount(id) > MaxModelIdBytes)
        {
            // No model has such a name; it is not worth echoing back either.
            await ProxyResponses.WriteErrorAsync(response, ProxyError.BadRequest($"The model id is longer than {MaxModelIdBytes} bytes.", "model"), aborted, null, Inbound(request)).ConfigureAwait(false);
            return;
        }

        if (catalog.FindModel(caller, id) is not { } model)
        {
            await ProxyResponses.WriteErrorAsync(response, ProxyError.ModelNotFound(id), aborted, null, Inbound(request)).ConfigureAwait(false);
            return;
        }

        ProxyResponses.StartJson(response);
        using (var json = new Utf8JsonWriter(response.Body))
        {
            if (IsAnthropic(request))
            {
                AnthropicModelList.WriteModel(json, model);
            }
            else
            {
                WriteModel(json, model);
            }
        }

        await response.Body.FlushAsync(aborted).ConfigureAwait(false);
    }

    /// <summary>The caller of a GET with the catalog settled, or <see langword="null"/> once the error (or nothing, for a
    /// client that left) is written.</summary>
    private async Task<ProxyCaller?> AuthenticateAsync<TRequest, TSink>(TRequest request, TSink response, CancellationToken aborted)
        where TRequest : IProxyClientRequest
        where TSink : IProxyResponseSink
    {
        if (!AdminAccess.IsGet(request))
        {
            await ProxyResponses.WriteMethodNotAllowedAsync(request, response, "GET", aborted, Inbound(request)).ConfigureAwait(false);
            return null;
        }

        var current = options.CurrentValue;
        var anthropic = IsAnthropic(request);
        var caller = await authentication.AuthenticateAsync(request, current, acceptApiKeyHeader: anthropic, aborted).ConfigureAwait(false);
        if (caller is null)
        {
            await ProxyResponses.WriteErrorAsync(
                response, anthropic ? CallerAuthentication.AnthropicUnauthorized : CallerAuthentication.Unauthorized, aborted, null, Inbound(request)).ConfigureAwait(false);
            return null;
        }

        if (!catalog.FirstRefresh.IsCompleted)
        {
            // Right after start, wait (briefly) for the providers' own lists rather than answer with a partial one.
            try
            {
                await catalog.FirstRefresh.WaitAsync(current.HealthCheckTimeout + TimeSpan.FromSeconds(1), aborted).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }

        return caller;
    }

    private static bool IsAnthropic<TRequest>(TRequest request)
        where TRequest : IProxyClientRequest
        => request.TryGetHeader(AnthropicModelList.VersionHeader, out _);

    private static IInboundApi Inbound<TRequest>(TRequest request)
        where TRequest : IProxyClientRequest
        => IsAnthropic(request) ? AnthropicInboundApi.Instance : OpenAiInboundApi.Instance;

    internal static void WriteList(IBufferWriter<byte> output, IReadOnlyList<CatalogModel> models)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("object", "list");
        json.WriteStartArray("data");
        foreach (var model in models)
        {
            WriteModel(json, model);
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteModel(Utf8JsonWriter json, CatalogModel model)
    {
        json.WriteStartObject();
        json.WriteString("id", model.Id);
        json.WriteString("object", "model");
        json.WriteNumber("created", model.Created);
        json.WriteString("owned_by", model.OwnedBy);
        json.WriteEndObject();
    }
}
