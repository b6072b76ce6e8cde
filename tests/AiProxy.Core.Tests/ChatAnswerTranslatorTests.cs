using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using AiProxy.Protocols.Anthropic.Inbound;
using AiProxy.Relay;
using AiProxy.Usage;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>OpenAI chat answers translated for Anthropic clients: the failures other gateways are known for, one by one.</summary>
public sealed class ChatAnswerTranslatorTests
{
    private const long PromptEstimate = 42;

    /// <summary>Relays <paramref name="chunks"/> (OpenAI data payloads, then [DONE]) through the event relay with the
    /// translator, reading <paramref name="readSize"/> bytes at a time; returns Anthropic's events.</summary>
    private static async Task<List<(string Name, JsonElement Data)>> TranslateStreamAsync(int readSize, params string[] chunks)
    {
        var sse = string.Concat(chunks.Select(c => $"data: {c}\n\n")) + "data: [DONE]\n\n";
        using var relay = new EventStreamRelay(new TrickleStream(Encoding.UTF8.GetBytes(sse), readSize), dropUsageChunk: false, expectDone: true, new UsageData())
        {
            Translator = new ChatAnswerTranslator("claude-x", PromptEstimate),
        };
        var (first, _) = await relay.ReadFirstEventAsync(CancellationToken.None);
        Assert.That(first, Is.EqualTo(EventStreamRelay.FirstEvent.Ready));
        var pipe = new Pipe();
        var outcome = await relay.CopyToAsync(pipe.Writer, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None);
        Assert.That(outcome, Is.EqualTo(RelayOutcome.Completed));
        await pipe.Writer.CompleteAsync();
        var read = await pipe.Reader.ReadAtLeastAsync(int.MaxValue);
        var text = Encoding.UTF8.GetString(read.Buffer.ToArray());
        var events = new List<(string, JsonElement)>();
        foreach (var block in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            var lines = block.Split('\n');
            Assert.That(lines, Has.Length.EqualTo(2), block);
            events.Add((lines[0]["event: ".Length..], JsonDocument.Parse(lines[1]["data: ".Length..]).RootElement.Clone()));
        }

        return events;
    }

    private static string Chunk(string delta, string? finish = null)
        => "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":" + delta
            + ",\"finish_reason\":" + (finish is null ? "null" : "\"" + finish + "\"") + "}]}";

    private static string Tool(int index, string? id, string? name, string arguments)
        => "{\"tool_calls\":[{\"index\":" + index + ","
            + (id is null ? "" : "\"id\":\"" + id + "\",\"type\":\"function\",")
            + "\"function\":{" + (name is null ? "" : "\"name\":\"" + name + "\",") + "\"arguments\":" + JsonSerializer.Serialize(arguments) + "}}]}";

    private static void AssertGrammar(List<(string Name, JsonElement Data)> events)
    {
        Assert.That(events[0].Name, Is.EqualTo("message_start"));
        Assert.That(events[^2].Name, Is.EqualTo("message_delta"));
        Assert.That(events[^1].Name, Is.EqualTo("message_stop"));
        long? open = null;
        long next = 0;
        foreach (var (name, data) in events)
        {
            Assert.That(data.GetProperty("type").GetString(), Is.EqualTo(name));
            switch (name)
            {
                case "content_block_start":
                    Assert.That(open, Is.Null, "a block starts only after the previous one stopped");
                    Assert.That(data.GetProperty("index").GetInt64(), Is.EqualTo(next), "indices are dense, from 0");
                    open = next++;
                    break;
                case "content_block_delta":
                    Assert.That(data.GetProperty("index").GetInt64(), Is.EqualTo(open), "deltas belong to the open block");
                    break;
                case "content_block_stop":
                    Assert.That(data.GetProperty("index").GetInt64(), Is.EqualTo(open));
                    open = null;
                    break;
            }
        }

        Assert.That(open, Is.Null, "every block is stopped before message_delta");
    }

    private static string Input(List<(string Name, JsonElement Data)> events, long index)
        => string.Concat(events.Where(e => e.Name == "content_block_delta" && e.Data.GetProperty("index").GetInt64() == index)
            .Select(e => e.Data.GetProperty("delta").GetProperty("partial_json").GetString()));

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(4096)]
    public async Task Parallel_tool_calls_after_text_get_their_own_dense_blocks_whatever_the_read_size(int readSize)
    {
        var events = await TranslateStreamAsync(
            readSize,
            Chunk("""{"role":"assistant","content":"Let me check."}"""),
            Chunk(Tool(0, "call_a", "get_weather", "")),
            Chunk(Tool(0, null, null, """{"city":""")),
            Chunk(Tool(0, null, null, "\"Paris\"}")),
            Chunk(Tool(1, "call_b", "get_time", "")),
            Chunk("{}", "tool_calls"));

        AssertGrammar(events);
        var starts = events.Where(e => e.Name == "content_block_start").Select(e => e.Data.GetProperty("content_block")).ToArray();
        Assert.That(starts.Select(b => b.GetProperty("type").GetString()), Is.EqualTo(new[] { "text", "tool_use", "tool_use" }));
        Assert.That(starts[1].GetProperty("id").GetString(), Is.EqualTo("call_a"));
        Assert.That(starts[2].GetProperty("name").GetString(), Is.EqualTo("get_time"));
        Assert.That(Input(events, 1), Is.EqualTo("""{"city":"Paris"}"""), "the arguments whole, in order");
        Assert.That(Input(events, 2), Is.EqualTo("{}"), "a call without arguments has an empty object, never an empty string");
        Assert.That(events[^2].Data.GetProperty("delta").GetProperty("stop_reason").GetString(), Is.EqualTo("tool_use"));
    }

    [Test]
    public async Task Reasoning_becomes_a_thinking_block_before_the_text()
    {
        var events = await TranslateStreamAsync(
            4096,
            Chunk("""{"role":"assistant","reasoning_content":"Think"}"""),
            Chunk("""{"reasoning_content":"ing."}"""),
            Chunk("""{"content":"Answer \"quoted\" \u00e9"}""", "stop"));

        AssertGrammar(events);
        var blocks = events.Where(e => e.Name == "content_block_start").Select(e => e.Data.GetProperty("content_block").GetProperty("type").GetString());
        Assert.That(blocks, Is.EqualTo(new[] { "thinking", "text" }));
        var thinking = string.Concat(events.Where(e => e.Name == "content_block_delta" && e.Data.GetProperty("index").GetInt64() == 0)
            .Select(e => e.Data.GetProperty("delta").GetProperty("thinking").GetString()));
        Assert.That(thinking, Is.EqualTo("Thinking."));
        var text = events.Single(e => e.Name == "content_block_delta" && e.Data.GetProperty("index").GetInt64() == 1).Data.GetProperty("delta");
        Assert.That(text.GetProperty("type").GetString(), Is.EqualTo("text_delta"));
        Assert.That(text.GetProperty("text").GetString(), Is.EqualTo("Answer \"quoted\" \u00e9"), "escapes copied as they are, and still mean the same");
    }

    [TestCase("stop", "end_turn")]
    [TestCase("length", "max_tokens")]
    [TestCase("content_filter", "refusal")]
    [TestCase("tool_calls", "tool_use")]
    [TestCase("something_new", "end_turn")]
    public async Task Finish_reasons_map_to_stop_reasons_never_null(string finish, string stop)
    {
        var events = await TranslateStreamAsync(4096, Chunk("""{"content":"x"}""", finish));

        Assert.That(events[^2].Data.GetProperty("delta").GetProperty("stop_reason").GetString(), Is.EqualTo(stop));
    }

    [Test]
    public async Task Message_delta_usage_is_the_providers_total_and_message_start_never_says_zero_input()
    {
        var events = await TranslateStreamAsync(
            4096,
            Chunk("""{"role":"assistant","content":"a"}"""),
            Chunk("""{"content":"b"}""", "stop"),
            """{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}""");

        Assert.That(events[0].Data.GetProperty("message").GetProperty("usage").GetProperty("input_tokens").GetInt64(), Is.EqualTo(PromptEstimate),
            "before the provider's usage arrives, the estimate");
        var usage = events[^2].Data.GetProperty("usage");
        Assert.That(usage.GetProperty("output_tokens").GetInt64(), Is.EqualTo(7));
        Assert.That(usage.GetProperty("input_tokens").GetInt64(), Is.EqualTo(11));
    }

    [Test]
    public void A_whole_answer_with_a_tool_call_becomes_a_tool_use_block_with_its_input()
    {
        var body = """
            {"id":"chatcmpl-9","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,
            "tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},
                          {"id":"call_2","type":"function","function":{"name":"g","arguments":""}}]},"finish_reason":"tool_calls"}],
            "usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}
            """u8;
        var usage = new UsageData { PromptTokens = 5, CompletionTokens = 3 };
        var output = new ArrayBufferWriter<byte>();

        new ChatAnswerTranslator("claude-x", PromptEstimate).WriteBody(body, 200, usage, output);

        using var message = JsonDocument.Parse(output.WrittenMemory);
        var root = message.RootElement;
        Assert.That(root.GetProperty("type").GetString(), Is.EqualTo("message"));
        Assert.That(root.GetProperty("model").GetString(), Is.EqualTo("claude-x"));
        Assert.That(root.GetProperty("stop_reason").GetString(), Is.EqualTo("tool_use"));
        var content = root.GetProperty("content");
        Assert.That(content.GetArrayLength(), Is.EqualTo(2), "no empty text block next to the calls");
        Assert.That(content[0].GetProperty("input").GetProperty("a").GetInt32(), Is.EqualTo(1));
        Assert.That(content[1].GetProperty("input").EnumerateObject(), Is.Empty);
        Assert.That(root.GetProperty("usage").GetProperty("input_tokens").GetInt64(), Is.EqualTo(5));
        Assert.That(root.GetProperty("usage").GetProperty("output_tokens").GetInt64(), Is.EqualTo(3));
    }

    /// <summary>A stream that hands out at most a few bytes per read, so events arrive split anywhere (inside their JSON too).</summary>
    private sealed class TrickleStream(byte[] data, int readSize) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => base.ReadAsync(buffer[..Math.Min(buffer.Length, readSize)], cancellationToken);
    }
}
