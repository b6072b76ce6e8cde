using System.Buffers;
using System.Text.Json;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Inbound;
using AiProxy.Providers;
using AiProxy.RateLimiting;
using AiProxy.Requests;

namespace AiProxy.Protocols.Anthropic.Inbound;

/// <summary>
/// Anthropic's Messages API (<c>POST /v1/messages</c>) for Anthropic clients (the SDKs, Claude Code): the body is translated
/// into an OpenAI chat request (<see cref="MessagesRequestTranslator"/>) that the pipeline sends like any other, the answer
/// is translated back (<see cref="ChatAnswerTranslator"/>), and every error the proxy writes is in Anthropic's shape
/// (<see cref="AnthropicErrors"/>).
/// </summary>
internal sealed class AnthropicInboundApi : IInboundApi
{
    public const string ApiName = "anthropic";

    public static AnthropicInboundApi Instance { get; } = new();

    private AnthropicInboundApi()
    {
    }

    public string Name => ApiName;

    public IReadOnlyList<string> NativeHeaderNames { get; } = ["anthropic-version", "anthropic-beta"];

    public InboundTranslation? TranslateRequest(ReadOnlyMemory<byte> body, out ProxyError? error) => Translate(body, requireMaxTokens: true, out error);

    /// <summary>A <c>count_tokens</c> body read as a Messages request without <c>max_tokens</c>: the same refusals.</summary>
    public InboundTranslation? TranslateCountTokens(ReadOnlyMemory<byte> body, out ProxyError? error) => Translate(body, requireMaxTokens: false, out error);

    private static InboundTranslation? Translate(ReadOnlyMemory<byte> body, bool requireMaxTokens, out ProxyError? error)
    {
        using var output = new PooledBufferWriter(Math.Max(1024, body.Length + (body.Length / 4)));
        using (var json = new Utf8JsonWriter(output))
        {
            error = MessagesRequestTranslator.Translate(body, json, requireMaxTokens);
        }

        if (error is not null)
        {
            return null;
        }

        // The client's body parsed above, so its inspection finds its model token; the translation's is what the pipeline reads.
        RequestInspector.TryInspect(body.Span, out var original, out _);
        var translated = output.ToBody();
        if (!RequestInspector.TryInspect(translated.Memory.Span, out var inspection, out var inspectionError))
        {
            ((IDisposable)translated).Dispose();
            error = ProxyError.BadRequest(inspectionError ?? "The request body is not valid.");
            return null;
        }

        return new InboundTranslation(translated, inspection, "chat/completions", Instance, body, original);
    }

    public void WriteError(IBufferWriter<byte> output, ProxyError error) => AnthropicErrors.WriteJson(output, error);

    public void WriteStreamError(IBufferWriter<byte> output, ProxyError error) => AnthropicErrors.WriteEvent(output, error);

    /// <summary>An answer from a provider of the <c>anthropic</c> kind came natively and is relayed as it is; any other is
    /// translated from OpenAI's chat format.</summary>
    public IResponseTranslator? CreateResponseTranslator(ProxyRequest request, ForwardResult result)
        => IsNative(result.Provider)
            ? null
            : new ChatAnswerTranslator(request.Model, RequestTokenEstimate.PromptTokens(request.Body.Length));

    /// <summary>Whether <paramref name="provider"/> speaks the Messages API itself.</summary>
    public static bool IsNative(IProviderClient? provider)
        => provider is ProviderClient client && string.Equals(client.Options.Kind, ProviderKinds.Anthropic, StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// <c>POST /v1/messages/count_tokens</c> without a provider's count: an estimate that errs high, one token per three
    /// bytes of the text the model reads (every string value but the model's name, object keys of tool schemas included),
    /// plus a few tokens per message and block for the framing.
    /// </summary>
    public static long EstimateInputTokens(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 256 });
        long textBytes = 0, objects = 0;
        var skipNext = false;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        objects++;
                        break;
                    case JsonTokenType.PropertyName:
                        skipNext = reader.CurrentDepth == 1 && (reader.ValueTextEquals("model"u8) || reader.ValueTextEquals("max_tokens"u8));
                        textBytes += reader.CurrentDepth > 1 ? reader.ValueSpan.Length : 0;
                        break;
                    case JsonTokenType.String or JsonTokenType.Number:
                        textBytes += skipNext ? 0 : reader.ValueSpan.Length;
                        skipNext = false;
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return RequestTokenEstimate.PromptTokens(body.Length);
        }

        return ((textBytes + 2) / 3) + (objects * 4);
    }
}
