using System.Text.Json;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Protocols;
using AiProxy.Providers;
using AiProxy.Protocols.Anthropic.Inbound;
using Microsoft.Extensions.Options;

namespace AiProxy.Hosting;

/// <summary>
/// <c>POST /v1/messages/count_tokens</c>: <c>{"input_tokens":n}</c> for a Messages request: the count of the provider that
/// serves the model first when it is of the <c>anthropic</c> kind (<see cref="ProviderTokenCount"/>), else (or when it
/// fails) an estimate that errs high (<see cref="AnthropicInboundApi.EstimateInputTokens"/>); the same token, scope and
/// body limits as <c>/v1/messages</c>, and errors in Anthropic's shape. Nothing is charged.
/// </summary>
internal sealed class CountTokensEndpoint(
    CallerAuthentication authentication,
    RequestBodyReader bodyReader,
    ProviderRegistry registry,
    ProviderModelMapper mapper,
    IOptionsMonitor<OpenAiProxyOptions> options)
{
    private const string ScopePath = "/v1/messages/count_tokens";

    public async Task HandleAsync<TClient>(TClient client)
        where TClient : IProxyClientRequest, IProxyResponseSink
    {
        var inbound = AnthropicInboundApi.Instance;
        if (!ClientMethods.IsPost(client))
        {
            await ProxyResponses.WriteMethodNotAllowedAsync(client, "POST", inbound).ConfigureAwait(false);
            return;
        }

        var current = options.CurrentValue;
        if (await authentication.AuthenticateAsync(client, current, acceptApiKeyHeader: true).ConfigureAwait(false) is not { } caller)
        {
            await ProxyResponses.WriteErrorAsync(client, CallerAuthentication.AnthropicUnauthorized, client.Aborted, null, inbound).ConfigureAwait(false);
            return;
        }

        if (caller.AllowedPaths.Count > 0 && !caller.MayCall(ScopePath))
        {
            await ProxyResponses.WriteErrorAsync(client, ProxyError.PathNotAllowed(ScopePath), client.Aborted, null, inbound).ConfigureAwait(false);
            return;
        }

        var (body, bodyError) = await bodyReader.ReadAsync(client, caller, current).ConfigureAwait(false);
        if (body is null)
        {
            if (bodyError is not null)
            {
                await ProxyResponses.WriteErrorAsync(client, bodyError, client.Aborted, null, inbound).ConfigureAwait(false);
            }

            return;
        }

        using (body)
        {
            // The same validation as a Messages request: a body /v1/messages would refuse is refused here too.
            using var translation = inbound.TranslateCountTokens(body.Memory, out var error);
            if (error is not null || translation is null)
            {
                await ProxyResponses.WriteErrorAsync(client, error ?? ProxyError.BadRequest("The request body is not a Messages client."), client.Aborted, null, inbound).ConfigureAwait(false);
                return;
            }

            if (translation.Inspection.Model is { } model && !caller.MayUse(model))
            {
                await ProxyResponses.WriteErrorAsync(client, ProxyError.ModelNotAllowed(model), client.Aborted, null, inbound).ConfigureAwait(false);
                return;
            }

            var count = await ProviderCountAsync(caller, translation, current, client.Aborted).ConfigureAwait(false)
                ?? AnthropicInboundApi.EstimateInputTokens(body.Memory.Span);
            ProxyResponses.StartJson(client);
            using (var json = new Utf8JsonWriter(client.Body))
            {
                json.WriteStartObject();
                json.WriteNumber("input_tokens", count);
                json.WriteEndObject();
            }

            await client.Body.FlushAsync(client.Aborted).ConfigureAwait(false);
        }
    }

    /// <summary>The count of the first enabled <c>anthropic</c> provider (by priority) that serves the model and that the
    /// caller may reach; <see langword="null"/> when there is none or it fails.</summary>
    private async ValueTask<long?> ProviderCountAsync(AiProxy.Tokens.ProxyCaller caller, AiProxy.Inbound.InboundTranslation translation, OpenAiProxyOptions current, CancellationToken aborted)
    {
        if (translation.Inspection.Model is not { } model)
        {
            return null;
        }

        ProviderClient? chosen = null;
        foreach (var provider in registry.All)
        {
            if (provider.Options.Enabled
                && string.Equals(provider.Options.Kind, ProviderKinds.Anthropic, StringComparison.OrdinalIgnoreCase)
                && caller.MayReach(provider.Name)
                && (provider.ServesModel(model) || mapper.Map(provider.Name, model).ProviderModel is not null)
                && (chosen is null || provider.Options.Priority < chosen.Options.Priority))
            {
                chosen = provider;
            }
        }

        return chosen is null
            ? null
            : await ProviderTokenCount.TryCountAsync(chosen, translation, mapper.Map(chosen.Name, model), current.DefaultTimeout, aborted).ConfigureAwait(false);
    }
}
