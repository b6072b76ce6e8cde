using System.Buffers;
using System.Text.Json;
using AiProxy.Errors;
using AiProxy.Providers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace AiProxy.AspNetCore.Endpoints;

/// <summary>
/// <c>GET /v1/models</c>: OpenAI's list of the models the caller's token may use, across enabled providers
/// and mappings, with <c>owned_by</c> naming the provider that serves the model first.
/// </summary>
internal sealed class ModelsEndpoint(CallerAuthentication authentication, ModelCatalog catalog, IOptionsMonitor<OpenAiProxyOptions> options)
{
    public async Task HandleAsync(HttpContext context)
    {
        if (!HttpMethods.IsGet(context.Request.Method))
        {
            context.Response.Headers.Allow = "GET";
            await ProxyHttpResponses.WriteErrorAsync(context, ProxyError.MethodNotAllowed(context.Request.Method, context.Request.Path)).ConfigureAwait(false);
            return;
        }

        var current = options.CurrentValue;
        var caller = await authentication.AuthenticateAsync(context, current).ConfigureAwait(false);
        if (caller is null)
        {
            await ProxyHttpResponses.WriteErrorAsync(context, CallerAuthentication.Unauthorized).ConfigureAwait(false);
            return;
        }

        if (!catalog.FirstRefresh.IsCompleted)
        {
            // Right after start, wait (briefly) for the providers' own lists rather than answer with a partial one.
            try
            {
                await catalog.FirstRefresh.WaitAsync(current.HealthCheckTimeout + TimeSpan.FromSeconds(1), context.RequestAborted).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        var models = catalog.GetModels(caller);
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.Headers[ProxyHttpResponses.RequestIdHeader] = context.TraceIdentifier;
        WriteList(response.BodyWriter, models);
        await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    internal static void WriteList(IBufferWriter<byte> output, IReadOnlyList<CatalogModel> models)
    {
        using var json = new Utf8JsonWriter(output);
        json.WriteStartObject();
        json.WriteString("object", "list");
        json.WriteStartArray("data");
        foreach (var model in models)
        {
            json.WriteStartObject();
            json.WriteString("id", model.Id);
            json.WriteString("object", "model");
            json.WriteNumber("created", model.Created);
            json.WriteString("owned_by", model.OwnedBy);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }
}
