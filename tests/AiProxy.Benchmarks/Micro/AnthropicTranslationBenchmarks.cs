using System.Buffers;
using System.Text;
using AiProxy.Protocols.Anthropic;
using BenchmarkDotNet.Attributes;

namespace AiProxy.Benchmarks.Micro;

/// <summary>
/// The <c>anthropic</c> kind's translation cost: a chat request (1 KB and 100 KB) into a Messages request, a Messages answer
/// (about 1 KB) into a chat completion, and one streamed event (a text delta; a tool-argument delta) into an OpenAI chunk.
/// Output buffers are reused, as the request path reuses none: the allocation column is the translation's own.
/// </summary>
[MemoryDiagnoser]
public class AnthropicTranslationBenchmarks
{
    private const string Answer =
        """{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"The proxy reads the model and the stream flag, splices the model name and sends the rest unchanged. The proxy reads the model and the stream flag, splices the model name and sends the rest unchanged. The proxy reads the model and the stream flag, splices the model name and sends the rest unchanged."},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":"San Francisco, CA","unit":"celsius"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":2095,"cache_creation_input_tokens":0,"cache_read_input_tokens":1800,"output_tokens":503}}""";

    private static readonly byte[] TextDelta = Encoding.UTF8.GetBytes("""{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" tokens"}}""");
    private static readonly byte[] ArgumentsDelta = Encoding.UTF8.GetBytes("""{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"location\": \"San Fra"}}""");

    private readonly ArrayBufferWriter<byte> _output = new(256 * 1024);
    private byte[] _request = [];
    private byte[] _answer = [];
    private AnthropicStreamTranslator _stream = null!;

    [Params(1024, 100 * 1024)]
    public int RequestBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _request = ChatBodies.Create(RequestBytes);
        _answer = Encoding.UTF8.GetBytes(Answer);
        _stream = new AnthropicStreamTranslator(forcedTool: null, created: 1_700_000_000);
        _stream.Translate("""{"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":1}}}"""u8, _output);
        _stream.Translate("""{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"""u8, _output);
        _stream.Translate("""{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"""u8, _output);
    }

    [Benchmark]
    public int TranslateRequest()
    {
        _output.ResetWrittenCount();
        AnthropicRequestTranslator.Translate(_request, "claude-sonnet-4-5", 4096, _output, out _);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int TranslateAnswer()
    {
        _output.ResetWrittenCount();
        AnthropicResponseTranslator.Translate(_answer, null, 1_700_000_000, _output);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int StreamTextDelta()
    {
        _output.ResetWrittenCount();
        _stream.Translate(TextDelta, _output);
        return _output.WrittenCount;
    }

    [Benchmark]
    public int StreamToolArgumentsDelta()
    {
        _output.ResetWrittenCount();
        _stream.Translate(ArgumentsDelta, _output);
        return _output.WrittenCount;
    }
}
