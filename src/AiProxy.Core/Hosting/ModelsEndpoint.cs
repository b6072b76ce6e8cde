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
    public async Task HandleAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (await AuthenticateAsync(client).ConfigureAwait(false) is not { } caller)
        {
            return;
        }

        var models = catalog.GetModels(caller);
        ProxyResponses.StartJson(client);
        if (IsAnthropic(client))
        {
            AnthropicModelList.WriteList(client.Body, models);
        }
        else
        {
            WriteList(client.Body, models);
        }

        await client.Body.FlushAsync(client.Aborted).ConfigureAwait(false);
    }

    /// <summary><c>GET /v1/models/{id}</c> (the SDKs' <c>models.retrieve</c>): the model as <c>/v1/models</c> lists it for
    /// the caller, else 404 <c>model_not_found</c>, whether the model does not exist or the caller's token may not see it.</summary>
    public async Task HandleModelAsync<TClient>(TClient client, string? routeId)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (await AuthenticateAsync(client).ConfigureAwait(false) is not { } caller)
        {
            return;
        }

        // Routing leaves an encoded '/' encoded; model ids such as 'meta-llama/Llama-3.1-8B' hold one.
        var id = (routeId ?? string.Empty).Replace("%2F", "/", StringComparison.OrdinalIgnoreCase);
        if (System.Text.Encoding.UTF8.GetByteCount(id) > MaxModelIdBytes)
        {
            // No model has such a name; it is not worth echoing back either.
            await ProxyResponses.WriteErrorAsync(client, ProxyError.BadRequest($"The model id is longer than {MaxModelIdBytes} bytes.", "model"), client.Aborted, null, Inbound(client)).ConfigureAwait(false);
            return;
        }

        if (catalog.FindModel(caller, id) is not { } model)
        {
            await ProxyResponses.WriteErrorAsync(client, ProxyError.ModelNotFound(id), client.Aborted, null, Inbound(client)).ConfigureAwait(false);
            return;
        }

        ProxyResponses.StartJson(client);
        using (var json = new Utf8JsonWriter(client.Body))
        {
            if (IsAnthropic(client))
            {
                AnthropicModelList.WriteModel(json, model);
            }
            else
            {
                WriteModel(json, model);
            }
        }

        await client.Body.FlushAsync(client.Aborted).ConfigureAwait(false);
    }

    /// <summary>The caller of a GET with the catalog settled, or <see langword="null"/> once the error (or nothing, for a
    /// client that left) is written.</summary>
    private async Task<ProxyCaller?> AuthenticateAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        if (!ClientMethods.IsGet(client))
        {
            await ProxyResponses.WriteMethodNotAllowedAsync(client, "GET", Inbound(client)).ConfigureAwait(false);
            return null;
        }

        var current = options.CurrentValue;
        var anthropic = IsAnthropic(client);
        var caller = await authentication.AuthenticateAsync(client, current, acceptApiKeyHeader: anthropic).ConfigureAwait(false);
        if (caller is null)
        {
            await ProxyResponses.WriteErrorAsync(
                client, anthropic ? CallerAuthentication.AnthropicUnauthorized : CallerAuthentication.Unauthorized, client.Aborted, null, Inbound(client)).ConfigureAwait(false);
            return null;
        }

        if (!catalog.FirstRefresh.IsCompleted)
        {
            // Right after start, wait (briefly) for the providers' own lists rather than answer with a partial one.
            try
            {
                await catalog.FirstRefresh.WaitAsync(current.HealthCheckTimeout + TimeSpan.FromSeconds(1), client.Aborted).ConfigureAwait(false);
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

    private static bool IsAnthropic<TRequest>(TRequest client)
        where TRequest : IProxyClientRequest
        => client.TryGetHeader(AnthropicModelList.VersionHeader, out _);

    private static IInboundApi Inbound<TRequest>(TRequest client)
        where TRequest : IProxyClientRequest
        => IsAnthropic(client) ? AnthropicInboundApi.Instance : OpenAiInboundApi.Instance;

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
