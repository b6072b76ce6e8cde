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
    private static Task<List<(string Name, JsonElement Data)>> TranslateStreamAsync(int readSize, params string[] chunks)
        => TranslateStreamAsync(new ChatAnswerTranslator("claude-x", PromptEstimate), readSize, chunks);

    private static async Task<List<(string Name, JsonElement Data)>> TranslateStreamAsync(ChatAnswerTranslator translator, int readSize, params string[] chunks)
    {
        var sse = string.Concat(chunks.Select(c => $"data: {c}\n\n")) + "data: [DONE]\n\n";
        using var relay = new EventStreamRelay(new TrickleStream(Encoding.UTF8.GetBytes(sse), readSize), dropUsageChunk: false, expectDone: true, new UsageData())
        {
            Translator = translator,
        };
        var (first, _) = await relay.ReadFirstEventAsync(CancellationToken.None);
        Assert.That(first, Is.EqualTo(EventStreamRelay.FirstEvent.Ready));
        var pipe = new Pipe();
        var outcome = await relay.CopyToAsync(pipe.Writer, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeProvider.System, CancellationToken.None);
        Assert.That(outcome, Is.EqualTo(RelayOutcome.Completed));
        await pipe.Writer.CompleteAsync();
        var read = await pipe.Reader.ReadAtLeastAsync(int.MaxValue);
        return Parse(Encoding.UTF8.GetString(read.Buffer.ToArray()));
    }

    private static List<(string Name, JsonElement Data)> Parse(string text)
    {
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

    [TestCase(1)]
    [TestCase(4096)]
    public async Task Interleaved_parallel_tool_calls_each_get_one_contiguous_block_in_index_order_whatever_the_read_size(int readSize)
    {
        var events = await TranslateStreamAsync(
            readSize,
            Chunk("""{"role":"assistant","content":null}"""),
            Chunk(Tool(0, "call_a", "get_weather", "")),
            Chunk(Tool(1, "call_b", "get_time", "")),
            Chunk(Tool(0, null, null, """{"city":""")),
            Chunk(Tool(1, null, null, """{"tz":""")),
            Chunk(Tool(2, "call_c", "search", """{"q":"a } b""")),
            Chunk(Tool(0, null, null, "\"Paris, \\\"FR\\\" {x}\"")),
            Chunk(Tool(1, null, null, "\"Europe/Paris\"")),
            Chunk(Tool(2, null, null, " \\\" ]\"}")),
            Chunk(Tool(0, null, null, "}")),
            Chunk(Tool(1, null, null, "}")),
            Chunk("{}", "tool_calls"));

        AssertGrammar(events);
        var starts = events.Where(e => e.Name == "content_block_start").Select(e => e.Data.GetProperty("content_block")).ToArray();
        Assert.That(starts.Select(b => b.GetProperty("id").GetString()), Is.EqualTo(new[] { "call_a", "call_b", "call_c" }), "blocks in index order");
        Assert.That(starts.Select(b => b.GetProperty("name").GetString()), Is.EqualTo(new[] { "get_weather", "get_time", "search" }));
        Assert.That(Input(events, 0), Is.EqualTo("""{"city":"Paris, \"FR\" {x}"}"""), "no fragment lost, braces in strings not counted");
        Assert.That(Input(events, 1), Is.EqualTo("""{"tz":"Europe/Paris"}"""));
        Assert.That(Input(events, 2), Is.EqualTo("""{"q":"a } b \" ]"}"""));
        for (var i = 0; i < 3; i++)
        {
            Assert.DoesNotThrow(() => JsonDocument.Parse(Input(events, i)).Dispose(), $"block {i}'s input is one JSON value");
        }

        Assert.That(events[^2].Data.GetProperty("delta").GetProperty("stop_reason").GetString(), Is.EqualTo("tool_use"));
    }

    [Test]
    public void A_call_that_follows_a_whole_one_streams_at_once_and_an_interleaved_one_waits_for_the_open_block()
    {
        var translator = new ChatAnswerTranslator("claude-x", PromptEstimate);
        var usage = new UsageData();
        var output = new ArrayBufferWriter<byte>();
        List<(string Name, JsonElement Data)> Feed(string chunk)
        {
            output.ResetWrittenCount();
            translator.WriteEvent(Encoding.UTF8.GetBytes(chunk), usage, output);
            return Parse(Encoding.UTF8.GetString(output.WrittenSpan));
        }

        static string? Json(List<(string Name, JsonElement Data)> events)
            => events.Where(e => e.Name == "content_block_delta").Select(e => e.Data.GetProperty("delta").GetProperty("partial_json").GetString()).SingleOrDefault();

        Feed(Chunk(Tool(0, "call_a", "a", """{"x":""")));
        Assert.That(Feed(Chunk(Tool(1, "call_b", "b", """{"y":"""))), Is.Empty, "call_b waits while call_a's block is open");
        var closing = Feed(Chunk(Tool(0, null, null, "1}")));
        Assert.That(closing.Select(e => e.Name), Is.EqualTo(new[] { "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta" }),
            "call_a is whole: its block stops, and call_b goes next with what it held");
        Assert.That(closing[2].Data.GetProperty("content_block").GetProperty("id").GetString(), Is.EqualTo("call_b"));
        Assert.That(closing[3].Data.GetProperty("delta").GetProperty("partial_json").GetString(), Is.EqualTo("""{"y":"""));
        Assert.That(Json(Feed(Chunk(Tool(1, null, null, "2}")))), Is.EqualTo("2}"), "then call_b streams live");
        var third = Feed(Chunk(Tool(2, "call_c", "c", """{"z":""")));
        Assert.That(third.Select(e => e.Name), Is.EqualTo(new[] { "content_block_start", "content_block_delta" }),
            "a call after whole ones is not held back");
    }

    [Test]
    public async Task Interleaved_calls_held_back_past_the_limit_end_the_stream_with_an_error_event()
    {
        var translator = new ChatAnswerTranslator("claude-x", PromptEstimate) { MaxBufferedToolBytes = 64 };
        var events = await TranslateStreamAsync(
            translator,
            4096,
            Chunk(Tool(0, "call_a", "a", """{"x":""")),
            Chunk(Tool(1, "call_b", "b", "{\"y\":\"" + new string('z', 40))),
            Chunk(Tool(1, null, null, new string('z', 40))),
            Chunk(Tool(0, null, null, "1}")),
            Chunk("{}", "tool_calls"));

        Assert.That(events[^1].Name, Is.EqualTo("error"));
        Assert.That(events[^1].Data.GetProperty("error").GetProperty("message").GetString(), Does.Contain("64 bytes"));
        Assert.That(events.Count(e => e.Name == "error"), Is.EqualTo(1), "nothing after the error");
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
