using System.Runtime.CompilerServices;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Providers;
using AiProxy.Relay;
using AiProxy.Requests;
using AiProxy.Usage;

namespace AiProxy.Protocols;

/// <summary>
/// The <c>openai</c> kind: an OpenAI-compatible upstream. Zero-copy both ways: the request body is the client's bytes with
/// the mapped model and <c>stream_options.include_usage</c> spliced in (<see cref="UpstreamRequestBuilder"/>), and the
/// answer is relayed as it arrives, its usage read from the bytes as they pass (<see cref="EventStreamRelay"/>,
/// <see cref="ResponseRelay"/>); errors are read in OpenAI's shape (<see cref="UpstreamErrorReader"/>).
/// </summary>
internal sealed class OpenAiProtocol : IProviderProtocol
{
    public string Kind => ProviderKinds.OpenAi;

    public UpstreamRequest BuildRequest(ProxyRequest request, ProviderClient provider, MappedModel mapped, bool traceFromActivity)
        => UpstreamRequestBuilder.Build(request, provider, mapped, traceFromActivity);

    /// <summary>
    /// Takes a successful response. A stream is only accepted once its first data event arrived within the
    /// attempt timeout, and is not an error event, so that a stream that never really starts still falls back.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<(ForwardResult? Result, ProxyError? Failure)> AcceptAsync(
        ProxyRequest request, ProviderClient provider, UpstreamRequest sent, HttpResponseMessage response, CancellationToken attemptToken)
    {
        var (_, providerModel, usageInjected, _) = sent;
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        var isEventStream = string.Equals(mediaType, "text/event-stream", StringComparison.OrdinalIgnoreCase)
            || (mediaType is null && request.Inspection.Stream);
        var body = await response.Content.ReadAsStreamAsync(attemptToken).ConfigureAwait(false);
        if (!isEventStream)
        {
            return (ForwardResult.Relay(response, body, provider, providerModel, OpenAiUsageReader.Instance), null);
        }

        var events = new EventStreamRelay(body, dropUsageChunk: usageInjected && !request.KeepUsageChunk, expectDone: request.IsGeneration, new UsageData(), OpenAiUsageReader.Instance);
        return await StreamAcceptance.AcceptAsync(response, body, events, provider, providerModel, attemptToken).ConfigureAwait(false);
    }

    public async ValueTask<ForwardResult> RelayRefusalAsync(ProviderClient provider, UpstreamRequest sent, HttpResponseMessage response, CancellationToken attemptToken)
    {
        // Already in the client's (OpenAI's) shape: relayed unchanged.
        var body = await response.Content.ReadAsStreamAsync(attemptToken).ConfigureAwait(false);
        return ForwardResult.Relay(response, body, provider, sent.ProviderModel, OpenAiUsageReader.Instance);
    }

    public ValueTask<ProxyError> ReadErrorAsync(HttpResponseMessage response, ProviderClient provider, CancellationToken attemptToken)
        => UpstreamErrorReader.ReadAsync(response, provider, attemptToken);
}
