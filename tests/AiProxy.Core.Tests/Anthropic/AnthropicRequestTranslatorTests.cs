using System.Buffers;
using System.Text;
using System.Text.Json;
using AiProxy.Protocols.Anthropic;
using NUnit.Framework;

namespace AiProxy.Tests.Anthropic;

/// <summary>The OpenAI-to-Messages request translation, rule by rule.</summary>
public sealed class AnthropicRequestTranslatorTests
{
    [Test]
    public void Max_completion_tokens_wins_over_max_tokens_which_wins_over_the_default()
    {
        Assert.That(Translate("""{"max_completion_tokens":10,"max_tokens":20,"messages":[]}""").GetProperty("max_tokens").GetInt32(), Is.EqualTo(10));
        Assert.That(Translate("""{"max_tokens":20,"messages":[]}""").GetProperty("max_tokens").GetInt32(), Is.EqualTo(20));
        Assert.That(Translate("""{"messages":[]}""").GetProperty("max_tokens").GetInt32(), Is.EqualTo(4096));
    }

    [TestCase("\"auto\"", "auto")]
    [TestCase("\"required\"", "any")]
    [TestCase("\"none\"", "none")]
    [TestCase("""{"type":"function","function":{"name":"f"}}""", "tool")]
    public void Tool_choice_maps_to_anthropics_names(string choice, string expected)
    {
        var body = Translate($$$"""{"tool_choice":{{{choice}}},"tools":[{"type":"function","function":{"name":"f"}}],"messages":[]}""");

        Assert.That(body.GetProperty("tool_choice").GetProperty("type").GetString(), Is.EqualTo(expected));
        if (expected == "tool")
        {
            Assert.That(body.GetProperty("tool_choice").GetProperty("name").GetString(), Is.EqualTo("f"));
        }
    }

    [Test]
    public void Top_p_alone_is_sent_and_temperature_is_clamped_to_zero_at_least()
    {
        Assert.That(Translate("""{"top_p":0.4,"messages":[]}""").GetProperty("top_p").GetDouble(), Is.EqualTo(0.4));
        Assert.That(Translate("""{"temperature":-1,"messages":[]}""").GetProperty("temperature").GetDouble(), Is.EqualTo(0));
    }

    [TestCase("claude-sonnet-4-5", "low", 1024)]
    [TestCase("claude-opus-4-1", "high", 16384)]
    [TestCase("claude-3-7-sonnet-latest", "medium", 4096)]
    [TestCase("claude-3-5-haiku-latest", "high", 0)]
    [TestCase("claude-sonnet-4-5", "minimal", 0)]
    public void Reasoning_effort_becomes_a_thinking_budget_for_models_that_think(string model, string effort, int budget)
    {
        var body = Translate($$"""{"reasoning_effort":"{{effort}}","max_tokens":32000,"messages":[]}""", model);

        Assert.That(body.TryGetProperty("thinking", out var thinking) ? thinking.GetProperty("budget_tokens").GetInt32() : 0, Is.EqualTo(budget));
    }

    [Test]
    public void The_thinking_budget_stays_below_max_tokens_and_is_off_when_1024_does_not_fit()
    {
        Assert.That(Translate("""{"reasoning_effort":"high","max_tokens":5000,"messages":[]}""").GetProperty("thinking").GetProperty("budget_tokens").GetInt32(), Is.EqualTo(4999));
        Assert.That(Translate("""{"reasoning_effort":"low","max_tokens":1024,"messages":[]}""").TryGetProperty("thinking", out _), Is.False);
    }

    [Test]
    public void A_forced_tool_turns_thinking_off()
    {
        var body = Translate("""{"reasoning_effort":"low","max_tokens":4000,"response_format":{"type":"json_object"},"messages":[]}""");

        Assert.That(body.TryGetProperty("thinking", out _), Is.False);
        Assert.That(body.GetProperty("tool_choice").GetProperty("name").GetString(), Is.EqualTo(AnthropicRequestTranslator.ResponseFormatTool));
    }

    [Test]
    public void Thinking_blocks_go_back_before_the_tool_calls_and_redacted_ones_as_redacted_thinking()
    {
        var body = Translate("""
            {"reasoning_effort":"low","max_tokens":4000,"messages":[{"role":"user","content":"q"},
             {"role":"assistant","content":null,"thinking_blocks":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"redacted_thinking","data":"xyz"}],
              "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
             {"role":"tool","tool_call_id":"c1","content":"r"}]}
            """);

        var blocks = body.GetProperty("messages")[1].GetProperty("content").EnumerateArray().Select(b => b.GetProperty("type").GetString());
        Assert.That(blocks, Is.EqualTo(new[] { "thinking", "redacted_thinking", "tool_use" }));
    }

    [Test]
    public void A_json_body_that_is_not_an_object_or_has_no_messages_is_refused()
    {
        Assert.That(Refusal("[1,2]"), Does.Contain("JSON object"));
        Assert.That(Refusal("""{"model":"m"}"""), Does.Contain("messages"));
        Assert.That(Refusal("{not json"), Does.Contain("not valid JSON"));
    }

    private static JsonElement Translate(string json, string model = "claude-sonnet-4-5")
    {
        var output = new ArrayBufferWriter<byte>();
        var error = AnthropicRequestTranslator.Translate(Encoding.UTF8.GetBytes(json), model, 4096, output, out _);
        Assert.That(error, Is.Null, error?.Message);
        return JsonDocument.Parse(output.WrittenMemory).RootElement;
    }

    private static string Refusal(string json)
    {
        var error = AnthropicRequestTranslator.Translate(Encoding.UTF8.GetBytes(json), "claude-sonnet-4-5", 4096, new ArrayBufferWriter<byte>(), out _);
        Assert.That(error, Is.Not.Null);
        Assert.That(error!.Status, Is.EqualTo(400));
        return error.Message;
    }
}
