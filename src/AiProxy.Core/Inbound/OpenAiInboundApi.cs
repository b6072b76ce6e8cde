using System.Buffers;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Requests;

namespace AiProxy.Inbound;

/// <summary>
/// OpenAI's API, the gateway's own: bodies go to providers as they are (the request front inspects them, JSON or multipart),
/// errors are <c>{"error":{"message","type","param","code"}}</c> (<see cref="ProxyErrorWriter"/>), and answers are relayed
/// untouched. Nothing here allocates per request.
/// </summary>
internal sealed class OpenAiInboundApi : IInboundApi
{
    public static OpenAiInboundApi Instance { get; } = new();

    private OpenAiInboundApi()
    {
    }

    public string Name => "openai";

    public IReadOnlyList<string> NativeHeaderNames => [];

    public InboundTranslation? TranslateRequest(ReadOnlyMemory<byte> body, out ProxyError? error)
    {
        error = null;
        return null;
    }

    public void WriteError(IBufferWriter<byte> output, ProxyError error) => ProxyErrorWriter.WriteJson(output, error);

    public void WriteStreamError(IBufferWriter<byte> output, ProxyError error) => ProxyErrorWriter.WriteSseEvent(output, error);

    public IResponseTranslator? CreateResponseTranslator(ProxyRequest request, ForwardResult result) => null;
}
