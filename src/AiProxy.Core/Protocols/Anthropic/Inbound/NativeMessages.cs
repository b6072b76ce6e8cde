using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Providers;
using AiProxy.Relay;
using AiProxy.Requests;
using AiProxy.Usage;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>
/// An Anthropic client's request to a provider of the <c>anthropic</c> kind: no translation either way. The client's own
/// Messages body goes to <c>{BaseUrl}/messages</c> with the mapped model spliced in (as the OpenAI path splices it), with
/// the client's <c>anthropic-version</c> and <c>anthropic-beta</c>; the answer, its stream and its refusals are relayed as
/// they are, usage read from the bytes as they pass in Anthropic's format (<see cref="AnthropicUsageReader"/>).
/// </summary>
internal static class NativeMessages
{
    /// <summary>Marks a request built natively, so that its answer is relayed as it is.</summary>
    public static readonly object State = new();

    /// <summary>Whether <paramref name="request"/> came from an Anthropic client (then an <c>anthropic</c> provider gets it natively).</summary>
    public static bool Applies(ProxyRequest request)
        => request.Translation?.Inbound is AnthropicInboundApi;

    public static UpstreamRequest Build(ProxyRequest request, ProviderClient provider, MappedModel mapped, bool traceFromActivity)
    {
        var native = request.Translation!;
        var message = UpstreamRequestBuilder.CreateMessage(request, provider, provider.EndpointUri("messages"), traceFromActivity);
        foreach (var (name, value) in native.NativeHeaders)
        {
            // The client's version and betas win over the provider's configured version: the body is written for them.
            message.Headers.Remove(name);
            message.Headers.TryAddWithoutValidation(name, value);
        }

        var inspection = native.OriginalInspection;
        var providerModel = inspection.Model;
        var modelEdit = BodyEdit.None;
        if (inspection.ModelTokenStart >= 0 && mapped.Encoded is { } encoded)
        {
            modelEdit = new BodyEdit(inspection.ModelTokenStart, inspection.ModelTokenLength, encoded);
            providerModel = mapped.ProviderModel;
        }

        message.Content = new SplicedContent(native.Original, modelEdit, BodyEdit.None, "application/json");
        return new UpstreamRequest(message, providerModel, UsageInjected: false, State);
    }

    public static async ValueTask<(ForwardResult? Result, ProxyError? Failure)> AcceptAsync(
        ProxyRequest request, ProviderClient provider, UpstreamRequest sent, HttpResponseMessage response, CancellationToken attemptToken)
    {
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        var body = await response.Content.ReadAsStreamAsync(attemptToken).ConfigureAwait(false);
        if (!string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase) && !(mediaType is null && request.Inspection.Stream))
        {
            return (ForwardResult.Relay(response, body, provider, sent.ProviderModel, AnthropicUsageReader.Instance), null);
        }

        // Anthropic's stream has no [DONE]: it ends after message_stop. An error event first is a failed attempt (fallback).
        var events = new EventStreamRelay(body, dropUsageChunk: false, expectDone: false, new UsageData(), AnthropicUsageReader.Instance);
        return await StreamAcceptance.AcceptAsync(response, body, events, provider, sent.ProviderModel, attemptToken).ConfigureAwait(false);
    }

    public static async ValueTask<ForwardResult> RelayRefusalAsync(ProviderClient provider, UpstreamRequest sent, HttpResponseMessage response, CancellationToken attemptToken)
    {
        // Already in the client's (Anthropic's) shape: relayed unchanged.
        var body = await response.Content.ReadAsStreamAsync(attemptToken).ConfigureAwait(false);
        return ForwardResult.Relay(response, body, provider, sent.ProviderModel, AnthropicUsageReader.Instance);
    }
}
