using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Providers;
using AiProxy.Requests;

namespace AiProxy.Protocols;

/// <summary>
/// A provider kind's wire format (<see cref="ProviderOptions.Kind"/>): how one attempt's request is translated for the
/// provider, and how its answer, stream and errors are read back into what the gateway relays. The attempt loop
/// (<see cref="ProxyDispatcher"/>) only classifies statuses and follows verdicts; everything that depends on the
/// provider's format is here. The first kind, <see cref="OpenAiProtocol"/>, relays bytes as they are (zero-copy: the model
/// name and <c>stream_options</c> are spliced in, nothing is re-serialized); another kind translates.
/// </summary>
internal interface IProviderProtocol
{
    /// <summary>The <see cref="ProviderOptions.Kind"/> this protocol serves (<see cref="ProviderKinds"/>).</summary>
    string Kind { get; }

    /// <summary>Request translation: the message one attempt sends to <paramref name="provider"/>.</summary>
    /// <param name="request">The client's request, as the inbound API read it.</param>
    /// <param name="provider">The attempt's provider.</param>
    /// <param name="mapped">The model the provider is asked for, when a mapping renames the client's.</param>
    /// <param name="traceFromActivity">The attempt's activity is current: its trace context, not the client's, goes upstream.</param>
    UpstreamRequest BuildRequest(ProxyRequest request, ProviderClient provider, MappedModel mapped, bool traceFromActivity);

    /// <summary>Response and stream translation of a 2xx: the result to relay, or, for a stream that broke before its first
    /// event, the failure (the attempt then falls back). Usage is read from the bytes as they pass.</summary>
    ValueTask<(ForwardResult? Result, ProxyError? Failure)> AcceptAsync(
        ProxyRequest request, ProviderClient provider, UpstreamRequest sent, HttpResponseMessage response, CancellationToken attemptToken);

    /// <summary>The caller's own mistake (400, 413, 422...), relayed to the client in the client's format.</summary>
    ValueTask<ForwardResult> RelayRefusalAsync(ProviderClient provider, UpstreamRequest sent, HttpResponseMessage response, CancellationToken attemptToken);

    /// <summary>Error mapping: a failed attempt's body as the gateway's error (status, type, code, message, Retry-After).</summary>
    ValueTask<ProxyError> ReadErrorAsync(HttpResponseMessage response, ProviderClient provider, CancellationToken attemptToken);
}
