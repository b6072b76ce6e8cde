using System.Text;
using System.Text.Json;
using AiProxy.Protocols.Anthropic;
using AiProxy.Usage;
using NUnit.Framework;

namespace AiProxy.Tests.Anthropic;

/// <summary>The Messages event stream read as OpenAI chunks through <see cref="AnthropicEventStream"/>, however its bytes are cut.</summary>
public sealed class AnthropicStreamTranslatorTests
{
    private const string Stream = """
        event: message_start
        data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":0,"cache_read_input_tokens":5,"output_tokens":1}}}

        event: ping
        data: {"type":"ping"}

        event: content_block_start
        data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi \"there\" \u00e9"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":0}

        event: content_block_start
        data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}

        event: content_block_delta
        data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"1}"}}

        event: content_block_stop
        data: {"type":"content_block_stop","index":1}

        event: message_delta
        data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"input_tokens":12,"cache_read_input_tokens":5,"output_tokens":30}}

        event: message_delta
        data: {"type":"message_delta","delta":{},"usage":{"output_tokens":31}}

        event: message_stop
        data: {"type":"message_stop"}


        """;

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(100_000)]
    public async Task The_translation_is_the_same_however_the_bytes_are_cut(int readSize)
    {
        var chunks = await TranslateAsync(Stream, readSize);

        Assert.That(chunks[^1], Is.EqualTo("[DONE]"));
        var json = chunks.SkipLast(1).Select(c => JsonDocument.Parse(c).RootElement).ToList();
        var deltas = json.Where(c => c.GetProperty("choices").GetArrayLength() > 0).Select(c => c.GetProperty("choices")[0]).ToList();
        Assert.That(deltas[0].GetProperty("delta").GetProperty("role").GetString(), Is.EqualTo("assistant"));
        Assert.That(deltas[0].GetProperty("delta").GetProperty("content").GetString(), Is.EqualTo("Hi \"there\" é"), "escapes pass through intact");
        var arguments = string.Concat(deltas.Select(d => d.GetProperty("delta").TryGetProperty("tool_calls", out var t) ? t[0].GetProperty("function").GetProperty("arguments").GetString() : ""));
        Assert.That(arguments, Is.EqualTo("{\"a\":1}"));
        Assert.That(deltas[^1].GetProperty("finish_reason").GetString(), Is.EqualTo("tool_calls"));
        var usage = json[^1].GetProperty("usage");
        Assert.That(usage.GetProperty("completion_tokens").GetInt32(), Is.EqualTo(31), "cumulative: the last count, not a sum");
        Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(17), "input + cache reads");
        Assert.That(usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(), Is.EqualTo(5));
        Assert.That(json.Select(c => c.GetProperty("id").GetString()).Distinct(), Is.EqualTo(new[] { "msg_1" }));
    }

    [TestCase(1)]
    [TestCase(4096)]
    public async Task A_redacted_thinking_block_is_carried_whole_in_thinking_blocks_after_the_signed_one(int readSize)
    {
        const string Redacted = """
            event: message_start
            data: {"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","model":"claude-x","content":[],"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":1}}}

            event: content_block_start
            data: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm."}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig-1"}}

            event: content_block_stop
            data: {"type":"content_block_stop","index":0}

            event: content_block_start
            data: {"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking","data":"EmwKAhgBEgy3va\/+="}}

            event: content_block_stop
            data: {"type":"content_block_stop","index":1}

            event: content_block_start
            data: {"type":"content_block_start","index":2,"content_block":{"type":"text","text":""}}

            event: content_block_delta
            data: {"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"42"}}

            event: content_block_stop
            data: {"type":"content_block_stop","index":2}

            event: message_delta
            data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9}}

            event: message_stop
            data: {"type":"message_stop"}


            """;

        var chunks = await TranslateAsync(Redacted, readSize);

        var deltas = chunks.SkipLast(1).Select(c => JsonDocument.Parse(c).RootElement.GetProperty("choices")).Where(c => c.GetArrayLength() > 0)
            .Select(c => c[0].GetProperty("delta")).ToList();
        var blocks = deltas.Where(d => d.TryGetProperty("thinking_blocks", out _)).Select(d => d.GetProperty("thinking_blocks").EnumerateArray().Single()).ToList();
        Assert.That(blocks.Select(b => b.GetProperty("type").GetString()), Is.EqualTo(new[] { "thinking", "redacted_thinking" }), "in the answer's order");
        Assert.That(blocks[1].GetProperty("data").GetString(), Is.EqualTo("EmwKAhgBEgy3va/+="), "the encrypted data as it came");
        Assert.That(blocks[1].TryGetProperty("thinking", out _), Is.False);
        Assert.That(string.Concat(deltas.Select(d => d.TryGetProperty("reasoning_content", out var r) ? r.GetString() : "")), Is.EqualTo("Hmm."),
            "redacted thinking is not readable text");
        Assert.That(string.Concat(deltas.Select(d => d.TryGetProperty("content", out var c) ? c.GetString() : "")), Is.EqualTo("42"));
    }

    [Test]
    public async Task Nothing_is_written_before_the_first_content_so_an_early_error_can_still_fall_back()
    {
        const string Early = """
            event: message_start
            data: {"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":3,"output_tokens":1}}}

            event: error
            data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}


            """;

        var chunks = await TranslateAsync(Early, 5);

        Assert.That(chunks, Has.Count.EqualTo(1));
        var error = JsonDocument.Parse(chunks[0]).RootElement.GetProperty("error");
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("overloaded_error"));
        Assert.That(error.GetProperty("message").GetString(), Is.EqualTo("Overloaded"));
    }

    [Test]
    public void Usage_read_natively_keeps_the_cache_reads_and_writes_apart_through_later_counts()
    {
        var usage = new UsageData();
        var reader = AnthropicUsageReader.Instance;

        reader.ReadChunk("""{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":10,"cache_creation_input_tokens":4,"cache_read_input_tokens":6,"output_tokens":1}}}"""u8, usage, readModel: true);
        reader.ReadChunk("""{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":10,"output_tokens":20}}"""u8, usage, readModel: false);

        Assert.That((usage.PromptTokens, usage.CachedPromptTokens, usage.CacheWriteTokens), Is.EqualTo((20L, 6L, 4L)));
        Assert.That(usage.CompletionTokens, Is.EqualTo(20));
    }

    [Test]
    public void Usage_read_natively_is_replaced_by_each_cumulative_count()
    {
        var usage = new UsageData();
        var reader = AnthropicUsageReader.Instance;

        reader.ReadChunk("""{"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":10,"cache_creation_input_tokens":4,"output_tokens":1}}}"""u8, usage, readModel: true);
        reader.ReadChunk("""{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":20}}"""u8, usage, readModel: false);
        reader.ReadChunk("""{"type":"message_delta","delta":{},"usage":{"output_tokens":25}}"""u8, usage, readModel: false);

        Assert.That(usage.ResponseModel, Is.EqualTo("claude-x"));
        Assert.That(usage.PromptTokens, Is.EqualTo(14));
        Assert.That(usage.CompletionTokens, Is.EqualTo(25));
        Assert.That(usage.TotalTokens, Is.EqualTo(39));
        Assert.That(reader.ReadChunk("""{"type":"error","error":{"type":"api_error","message":"x"}}"""u8, usage, readModel: false).IsError, Is.True);
        var body = new UsageData();
        Assert.That(reader.ReadUsageMember("""  "usage":{"input_tokens":3,"output_tokens":4}}"""u8.TrimStart(" "u8), body), Is.True);
        Assert.That((body.PromptTokens, body.CompletionTokens), Is.EqualTo((3L, 4L)));
    }

    private static async Task<List<string>> TranslateAsync(string anthropic, int readSize)
    {
        var upstream = new TrickleStream(Encoding.UTF8.GetBytes(anthropic.ReplaceLineEndings("\n")), readSize);
        await using var stream = new AnthropicEventStream(upstream, new AnthropicStreamTranslator(forcedTool: null, created: 1));
        using var reader = new StreamReader(stream);
        var text = await reader.ReadToEndAsync();
        return text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries).Select(e => e["data: ".Length..]).ToList();
    }

    /// <summary>Hands out at most <c>readSize</c> bytes per read, as a network may.</summary>
    private sealed class TrickleStream(byte[] data, int readSize) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => base.ReadAsync(buffer[..Math.Min(buffer.Length, readSize)], cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, readSize));
    }
}
