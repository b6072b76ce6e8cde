using System.Buffers;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Requests;

namespace AiProxy.Inbound;

/// <summary>
/// An API the gateway serves to its clients (OpenAI's, Anthropic's): how a client's body becomes what providers are sent,
/// how the proxy's own errors look in it (as a JSON body, and as the event that ends a broken stream), and how an
/// OpenAI-format answer is translated back. The pipeline (<see cref="Pipeline.ProxyExchange"/>) holds the request's API and
/// calls it; it never branches on which one it is. The host maps each API's routes onto <see cref="Hosting.ProxyGateway"/>.
/// </summary>
internal interface IInboundApi
{
    /// <summary>The API's name (<c>openai</c>, <c>anthropic</c>), for logs and tests.</summary>
    string Name { get; }

    /// <summary>Reads a client's JSON body. <see langword="null"/> with no error means the body goes to providers as it is
    /// (OpenAI's API: the request front inspects it); otherwise the OpenAI chat body translated from it, or the client's error.</summary>
    InboundTranslation? TranslateRequest(ReadOnlyMemory<byte> body, out ProxyError? error);

    /// <summary>The client headers of this API that a provider speaking it natively is sent (<c>anthropic-version</c>...).</summary>
    IReadOnlyList<string> NativeHeaderNames { get; }

    /// <summary>Writes the proxy's <paramref name="error"/> as this API's JSON error body.</summary>
    void WriteError(IBufferWriter<byte> output, ProxyError error);

    /// <summary>Writes <paramref name="error"/> as the event that ends a stream which broke after it started.</summary>
    void WriteStreamError(IBufferWriter<byte> output, ProxyError error);

    /// <summary>How <paramref name="result"/>'s body reaches the client: <see langword="null"/> to relay it as it is, else a
    /// translator of one response (it keeps the state of a stream).</summary>
    IResponseTranslator? CreateResponseTranslator(ProxyRequest request, ForwardResult result);
}
