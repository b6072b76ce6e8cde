using System.Buffers;
using System.Text;
using System.Text.Json;
using AiProxy.Protocols.Anthropic.Inbound;
using AiProxy.Usage;
using BenchmarkDotNet.Attributes;

namespace AiProxy.Benchmarks.Micro;

/// <summary>
/// The cost of serving an Anthropic client from an OpenAI provider: a Messages request translated into a chat body (and
/// inspected) per request, one streamed chunk translated into Anthropic's events, and a whole answer translated back.
/// </summary>
[MemoryDiagnoser]
public class InboundTranslationBenchmarks
{
    private const string Sentence = "The proxy reads the model and the stream flag, splices the model name and sends the rest unchanged. ";

    private const string Delta =
        """{"id":"chatcmpl-9x8y7z","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_0ba0d124f1","choices":[{"index":0,"delta":{"content":" tokens"},"logprobs":null,"finish_reason":null}],"usage":null}""";

    private const string Answer =
        """{"id":"chatcmpl-9x8y7z","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant","content":"The proxy reads the model and the stream flag, splices the model name and sends the rest unchanged.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1117,"completion_tokens":46,"total_tokens":1163}}""";

    private readonly ArrayBufferWriter<byte> _output = new(4096);
    private readonly UsageData _usage = new();
    private byte[] _request = [];
    private byte[] _delta = [];
    private byte[] _answer = [];
    private ChatAnswerTranslator _stream = null!;

    [Params(1024, 100 * 1024)]
    public int RequestBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _request = MessagesBody(RequestBytes);
        _delta = Encoding.UTF8.GetBytes(Delta);
        _answer = Encoding.UTF8.GetBytes(Answer);
        _stream = new ChatAnswerTranslator("claude-sonnet-4-5", 100);
        _stream.WriteEvent(_delta, _usage, _output); // message_start and the text block are behind: the steady state
    }

    /// <summary>Per request: the Messages body into a chat body in pooled memory, inspected, and returned.</summary>
    [Benchmark]
    public int TranslateRequest()
    {
        using var translation = AnthropicInboundApi.Instance.TranslateRequest(_request, out _);
        return translation!.Body.Length;
    }

    /// <summary>Per streamed event: one OpenAI content chunk into an Anthropic <c>content_block_delta</c>.</summary>
    [Benchmark]
    public int TranslateStreamEvent()
    {
        _output.ResetWrittenCount();
        _stream.WriteEvent(_delta, _usage, _output);
        return _output.WrittenCount;
    }

    /// <summary>Per non-streamed answer: the chat completion into a Messages answer.</summary>
    [Benchmark]
    public int TranslateAnswer()
    {
        _output.ResetWrittenCount();
        new ChatAnswerTranslator("claude-sonnet-4-5", 100).WriteBody(_answer, 200, _usage, _output);
        return _output.WrittenCount;
    }

    private static byte[] MessagesBody(int approximateBytes)
    {
        var buffer = new ArrayBufferWriter<byte>(approximateBytes + 512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", "claude-sonnet-4-5");
            json.WriteNumber("max_tokens", 256);
            json.WriteString("system", "You are a helpful assistant.");
            json.WriteStartArray("messages");
            for (var turn = 0; json.BytesCommitted + json.BytesPending < approximateBytes - 300; turn++)
            {
                json.WriteStartObject();
                json.WriteString("role", turn % 2 == 0 ? "user" : "assistant");
                json.WriteStartArray("content");
                json.WriteStartObject();
                json.WriteString("type", "text");
                json.WriteString("text", string.Concat(Enumerable.Repeat(Sentence, 1 + (turn % 3))));
                json.WriteEndObject();
                json.WriteEndArray();
                json.WriteEndObject();
                json.Flush();
            }

            json.WriteEndArray();
            json.WriteNumber("temperature", 0.7);
            json.WriteBoolean("stream", true);
            json.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
