using System.Buffers;
using System.Net.Http.Headers;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Protocols.Anthropic.Inbound;
using AiProxy.Providers;
using AiProxy.Relay;
using AiProxy.Requests;
using AiProxy.Usage;

namespace AiProxy.Protocols.Anthropic;

/// <summary>
/// The <c>anthropic</c> kind: Anthropic's Messages API behind OpenAI chat completions. The request is translated
/// (<see cref="AnthropicRequestTranslator"/>) and sent to <c>{BaseUrl}/messages</c> with the key as <c>x-api-key</c> and
/// <c>anthropic-version</c> (<see cref="ProviderClient"/>); the answer (<see cref="AnthropicResponseTranslator"/>) and the
/// stream (<see cref="AnthropicEventStream"/>) come back as OpenAI's, so the relays, usage reading and limits work as for
/// an OpenAI provider. Errors are read in Anthropic's shape: 529 <c>overloaded_error</c> is a retryable failure (503 when
/// nothing else answers), 429 keeps its <c>retry-after</c>, a refusal (400...) reaches the client in OpenAI's shape.
/// Only chat completions are served: any other path is refused before anything is sent.
/// </summary>
internal sealed class AnthropicProtocol(TimeProvider time) : IProviderProtocol
{
    private const string ChatPath = "chat/completions";
    private const int MaxAnswerBytes = 32 * 1024 * 1024;

    private static readonly MediaTypeHeaderValue Json = new("application/json");

    public string Kind => ProviderKinds.Anthropic;

    public UpstreamRequest BuildRequest(ProxyRequest request, ProviderClient provider, MappedModel mapped, bool traceFromActivity)
    {
        if (NativeMessages.Applies(request))
        {
            return NativeMessages.Build(request, provider, mapped, traceFromActivity); // an Anthropic client: its own body
        }

        if (request.Path != ChatPath || request.Method != "POST" || !request.HasBody)
        {
            throw new ProtocolRefusalException(ProxyError.BadRequest(
                $"Provider '{provider.Name}' is an Anthropic provider and serves only POST /v1/chat/completions, not {request.Method} /v1/{request.Path}."));
        }

        var model = mapped.ProviderModel ?? request.Inspection.Model ?? string.Empty;
        var body = new ArrayBufferWriter<byte>(request.Body.Length + 256);
        var refusal = AnthropicRequestTranslator.Translate(request.Body, model, provider.Options.DefaultMaxTokens, body, out var state);
        if (refusal is not null)
        {
            throw new ProtocolRefusalException(refusal);
        }

        var message = UpstreamRequestBuilder.CreateMessage(request, provider, provider.EndpointUri("messages"), traceFromActivity);
        var content = new ReadOnlyMemoryContent(body.WrittenMemory);
        content.Headers.ContentType = Json;
        message.Content = content;
        return new UpstreamRequest(message, model, UsageInjected: false, state);
    }

    public async ValueTask<(ForwardResult? Result, ProxyError? Failure)> AcceptAsync(
        ProxyRequest request, ProviderClient provider, UpstreamRequest sent, HttpResponseMessage response, CancellationToken attemptToken)
    {
        if (ReferenceEquals(sent.State, NativeMessages.State))
        {
            return await NativeMessages.AcceptAsync(request, provider, sent, response, attemptToken).ConfigureAwait(false);
        }

        var state = sent.State as AnthropicRequestState ?? AnthropicRequestState.Default;
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase) || (mediaType is null && request.Inspection.Stream))
        {
            var upstream = await response.Content.ReadAsStreamAsync(attemptToken).ConfigureAwait(false);
            var body = new AnthropicEventStream(upstream, new AnthropicStreamTranslator(state.ForcedTool, created));
            response.Content.Headers.ContentType = new MediaTypeHeaderValue("text/event-stream");

            // The translation always ends with the usage chunk (so limits and metrics count every stream): the relay drops
            // it unless the client asked for it. What the relay reads is OpenAI's format by then.
            var events = new EventStreamRelay(body, dropUsageChunk: !request.Inspection.IncludeUsage, expectDone: true, new UsageData(), OpenAiUsageReader.Instance);
            return await StreamAcceptance.AcceptAsync(response, body, events, provider, sent.ProviderModel, attemptToken).ConfigureAwait(false);
        }

        var answer = await ReadBoundedAsync(response, attemptToken).ConfigureAwait(false);
        var translated = new ArrayBufferWriter<byte>(answer.Length + 256);
        if (!AnthropicResponseTranslator.Translate(answer, state.ForcedTool, created, translated))
        {
            return (null, new ProxyError(502, ProxyError.UpstreamErrorType, "upstream_invalid_response", $"Provider '{provider.Name}' answered with something that is not a Messages API answer."));
        }

        var bytes = translated.WrittenSpan.ToArray();
        var replaced = new ByteArrayContent(bytes);
        replaced.Headers.ContentType = Json;
        response.Content.Dispose();
        response.Content = replaced;
        return (ForwardResult.Relay(response, new MemoryStream(bytes, writable: false), provider, sent.ProviderModel, OpenAiUsageReader.Instance), null);
    }

    public async ValueTask<ForwardResult> RelayRefusalAsync(ProviderClient provider, UpstreamRequest sent, HttpResponseMessage response, CancellationToken attemptToken)
    {
        if (ReferenceEquals(sent.State, NativeMessages.State))
        {
            return await NativeMessages.RelayRefusalAsync(provider, sent, response, attemptToken).ConfigureAwait(false);
        }

        // The caller's mistake, in OpenAI's shape: the client speaks OpenAI, not Anthropic.
        using (response)
        {
            var error = await UpstreamErrorReader.ReadAsync(response, provider, attemptToken, typeAsCode: true).ConfigureAwait(false);
            return ForwardResult.Refused(new ProxyError(error.Status, ProxyError.InvalidRequestType, error.Code, error.Message), provider);
        }
    }

    public async ValueTask<ProxyError> ReadErrorAsync(HttpResponseMessage response, ProviderClient provider, CancellationToken attemptToken)
    {
        var error = await UpstreamErrorReader.ReadAsync(response, provider, attemptToken, typeAsCode: true).ConfigureAwait(false);
        if (error.Status == 529)
        {
            // Anthropic's "overloaded": a failure worth another provider, and a 503 (service unavailable) for a client.
            return new ProxyError(503, ProxyError.UpstreamErrorType, "overloaded_error", error.Message) { RetryAfterSeconds = error.RetryAfterSeconds };
        }

        return error;
    }

    private static async ValueTask<byte[]> ReadBoundedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > MaxAnswerBytes)
        {
            throw new IOException("The provider's answer is larger than the gateway takes.");
        }

        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.Length > MaxAnswerBytes ? throw new IOException("The provider's answer is larger than the gateway takes.") : buffer.ToArray();
    }
}
