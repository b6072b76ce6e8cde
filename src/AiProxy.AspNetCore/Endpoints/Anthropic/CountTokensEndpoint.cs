using System.Text.Json;
using AiProxy.Errors;
using AiProxy.Protocols.Anthropic.Inbound;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace AiProxy.AspNetCore.Endpoints.Anthropic;

/// <summary>
/// <c>POST /v1/messages/count_tokens</c>: <c>{"input_tokens":n}</c> for a Messages request, estimated so that it errs high
/// (<see cref="AnthropicInboundApi.EstimateInputTokens"/>); the same token, scope and body limits as <c>/v1/messages</c>,
/// and errors in Anthropic's shape. Nothing is sent to a provider and nothing is charged.
/// </summary>
internal sealed class CountTokensEndpoint(CallerAuthentication authentication, RequestBodyReader bodyReader, IOptionsMonitor<OpenAiProxyOptions> options)
{
    private const string ScopePath = "/v1/messages/count_tokens";

    public async Task HandleAsync(HttpContext context)
    {
        var inbound = AnthropicInboundApi.Instance;
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            context.Response.Headers.Allow = "POST";
            await ProxyHttpResponses.WriteErrorAsync(context, ProxyError.MethodNotAllowed(context.Request.Method, context.Request.Path), null, inbound).ConfigureAwait(false);
            return;
        }

        var current = options.CurrentValue;
        if (await authentication.AuthenticateAsync(context, current, acceptApiKeyHeader: true).ConfigureAwait(false) is not { } caller)
        {
            await ProxyHttpResponses.WriteErrorAsync(context, CallerAuthentication.AnthropicUnauthorized, null, inbound).ConfigureAwait(false);
            return;
        }

        if (caller.AllowedPaths.Count > 0 && !caller.MayCall(ScopePath))
        {
            await ProxyHttpResponses.WriteErrorAsync(context, ProxyError.PathNotAllowed(ScopePath), null, inbound).ConfigureAwait(false);
            return;
        }

        var (body, bodyError) = await bodyReader.ReadAsync(context, caller, current).ConfigureAwait(false);
        if (body is null)
        {
            if (bodyError is not null)
            {
                await ProxyHttpResponses.WriteErrorAsync(context, bodyError, null, inbound).ConfigureAwait(false);
            }

            return;
        }

        using (body)
        {
            // The same validation as a Messages request: a body /v1/messages would refuse is refused here too.
            using var translation = inbound.TranslateCountTokens(body.Memory, out var error);
            if (error is not null || translation is null)
            {
                await ProxyHttpResponses.WriteErrorAsync(context, error ?? ProxyError.BadRequest("The request body is not a Messages request."), null, inbound).ConfigureAwait(false);
                return;
            }

            if (translation.Inspection.Model is { } model && !caller.MayUse(model))
            {
                await ProxyHttpResponses.WriteErrorAsync(context, ProxyError.ModelNotAllowed(model), null, inbound).ConfigureAwait(false);
                return;
            }

            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json";
            response.Headers[ProxyHttpResponses.RequestIdHeader] = context.TraceIdentifier;
            using (var json = new Utf8JsonWriter(response.BodyWriter))
            {
                json.WriteStartObject();
                json.WriteNumber("input_tokens", AnthropicInboundApi.EstimateInputTokens(body.Memory.Span));
                json.WriteEndObject();
            }

            await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        }
    }
}
