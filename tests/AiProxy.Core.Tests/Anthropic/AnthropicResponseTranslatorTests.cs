using System.Buffers;
using System.Text;
using System.Text.Json;
using AiProxy.Protocols.Anthropic;
using NUnit.Framework;

namespace AiProxy.Tests.Anthropic;

/// <summary>The Messages-to-chat-completion answer translation.</summary>
public sealed class AnthropicResponseTranslatorTests
{
    [TestCase("end_turn", "stop")]
    [TestCase("stop_sequence", "stop")]
    [TestCase("pause_turn", "stop")]
    [TestCase("something_new", "stop")]
    [TestCase("max_tokens", "length")]
    [TestCase("model_context_window_exceeded", "length")]
    [TestCase("refusal", "content_filter")]
    public void Stop_reasons_map_to_finish_reasons(string stopReason, string finishReason)
    {
        var message = Translate($$$"""{"id":"msg_1","model":"m","content":[{"type":"text","text":"x"}],"stop_reason":"{{{stopReason}}}","usage":{"input_tokens":1,"output_tokens":1}}""");

        Assert.That(message.GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo(finishReason));
    }

    [Test]
    public void Text_blocks_are_joined_tools_become_tool_calls_and_thinking_stays_out_of_content()
    {
        var answer = Translate("""
            {"id":"msg_1","model":"m","stop_reason":"tool_use","usage":{"input_tokens":10,"cache_creation_input_tokens":2,"cache_read_input_tokens":3,"output_tokens":7},
             "content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"A"},{"type":"server_tool_use","id":"srv","name":"web_search","input":{}},
                        {"type":"text","text":"B"},{"type":"tool_use","id":"toolu_1","name":"f","input":{"x":[1,2]}}]}
            """);

        var message = answer.GetProperty("choices")[0].GetProperty("message");
        Assert.That(message.GetProperty("content").GetString(), Is.EqualTo("AB"));
        Assert.That(message.GetProperty("reasoning_content").GetString(), Is.EqualTo("hmm"));
        Assert.That(message.GetProperty("thinking_blocks")[0].GetProperty("signature").GetString(), Is.EqualTo("s"));
        var calls = message.GetProperty("tool_calls");
        Assert.That(calls.GetArrayLength(), Is.EqualTo(1), "the server tool is not a function call");
        Assert.That(JsonDocument.Parse(calls[0].GetProperty("function").GetProperty("arguments").GetString()!).RootElement.GetProperty("x").GetArrayLength(), Is.EqualTo(2));
        var usage = answer.GetProperty("usage");
        Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(15));
        Assert.That(usage.GetProperty("completion_tokens").GetInt32(), Is.EqualTo(7));
        Assert.That(usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(), Is.EqualTo(3));
        Assert.That(usage.GetProperty("cache_creation_input_tokens").GetInt32(), Is.EqualTo(2), "the writes, for their own price");
    }

    [Test]
    public void An_answer_that_is_not_a_messages_answer_is_not_translated()
    {
        Assert.That(AnthropicResponseTranslator.Translate("""{"hello":1}"""u8, null, 1, new ArrayBufferWriter<byte>()), Is.False);
        Assert.That(AnthropicResponseTranslator.Translate("<html>"u8, null, 1, new ArrayBufferWriter<byte>()), Is.False);
    }

    [Test]
    public void An_answer_whose_only_thinking_is_redacted_keeps_it_in_thinking_blocks()
    {
        var message = Translate("""
            {"id":"msg_1","model":"m","stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1},
             "content":[{"type":"redacted_thinking","data":"EmwK"},{"type":"text","text":"x"}]}
            """).GetProperty("choices")[0].GetProperty("message");

        Assert.That(message.GetProperty("thinking_blocks").GetArrayLength(), Is.EqualTo(1));
        Assert.That(message.GetProperty("thinking_blocks")[0].GetProperty("data").GetString(), Is.EqualTo("EmwK"));
        Assert.That(message.TryGetProperty("reasoning_content", out _), Is.False, "no readable thinking");
    }

    private static JsonElement Translate(string json)
    {
        var output = new ArrayBufferWriter<byte>();
        Assert.That(AnthropicResponseTranslator.Translate(Encoding.UTF8.GetBytes(json), null, 1, output), Is.True);
        return JsonDocument.Parse(output.WrittenMemory).RootElement;
    }
}
