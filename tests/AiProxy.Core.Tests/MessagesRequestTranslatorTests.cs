using System.Text;
using System.Text.Json;
using AiProxy.Protocols.Anthropic.Inbound;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Anthropic Messages requests translated into OpenAI chat requests.</summary>
public sealed class MessagesRequestTranslatorTests
{
    private static JsonElement Translate(string body)
    {
        using var translation = AnthropicInboundApi.Instance.TranslateRequest(Encoding.UTF8.GetBytes(body), out var error);
        Assert.That(error, Is.Null, error?.Message);
        return JsonDocument.Parse(translation!.Body.Memory).RootElement.Clone();
    }

    [Test]
    public void System_blocks_become_the_first_system_message_and_options_take_their_openai_names()
    {
        var chat = Translate("""
            {"model":"m","max_tokens":100,"system":[{"type":"text","text":"Be brief."},{"type":"text","text":"Be kind.","cache_control":{"type":"ephemeral"}}],
             "top_k":5,"temperature":0.2,"stop_sequences":["END"],"metadata":{"user_id":"u-1"},"thinking":{"type":"enabled","budget_tokens":2048},
             "tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"web_search_20250305","name":"web_search"}],
             "tool_choice":{"type":"any","disable_parallel_tool_use":true},
             "messages":[{"role":"user","content":"hi"}]}
            """);

        var messages = chat.GetProperty("messages");
        Assert.That(messages[0].GetProperty("role").GetString(), Is.EqualTo("system"));
        Assert.That(messages[0].GetProperty("content").GetString(), Is.EqualTo("Be brief.\n\nBe kind."));
        Assert.That(chat.GetProperty("max_tokens").GetInt32(), Is.EqualTo(100));
        Assert.That(chat.GetProperty("stop")[0].GetString(), Is.EqualTo("END"));
        Assert.That(chat.GetProperty("user").GetString(), Is.EqualTo("u-1"));
        Assert.That(chat.GetProperty("tools").GetArrayLength(), Is.EqualTo(1), "a server tool has no function to call");
        Assert.That(chat.GetProperty("tool_choice").GetString(), Is.EqualTo("required"));
        Assert.That(chat.GetProperty("parallel_tool_calls").GetBoolean(), Is.False);
        Assert.That(chat.TryGetProperty("top_k", out _), Is.False);
        Assert.That(chat.TryGetProperty("thinking", out _), Is.False);
    }

    [Test]
    public void A_tool_turn_becomes_tool_calls_then_tool_messages_ahead_of_the_users_text()
    {
        var chat = Translate("""
            {"model":"m","max_tokens":100,"stream":true,"messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"Need the tool.","signature":"sig"},{"type":"text","text":"Checking."},
                {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
              {"role":"user","content":[{"type":"text","text":"and hurry"},{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"18 C"}]},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]}]}
            """);

        var messages = chat.GetProperty("messages");
        Assert.That(messages.GetArrayLength(), Is.EqualTo(4));
        var assistant = messages[1];
        Assert.That(assistant.GetProperty("content").GetString(), Is.EqualTo("Checking."));
        Assert.That(assistant.GetProperty("reasoning_content").GetString(), Is.EqualTo("Need the tool."));
        var call = assistant.GetProperty("tool_calls")[0];
        Assert.That(call.GetProperty("id").GetString(), Is.EqualTo("toolu_1"));
        Assert.That(JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!).RootElement.GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(messages[2].GetProperty("role").GetString(), Is.EqualTo("tool"), "the result right after the call");
        Assert.That(messages[2].GetProperty("content").GetString(), Is.EqualTo("18 C"));
        var parts = messages[3].GetProperty("content");
        Assert.That(parts[0].GetProperty("text").GetString(), Is.EqualTo("and hurry"));
        Assert.That(parts[1].GetProperty("image_url").GetProperty("url").GetString(), Is.EqualTo("data:image/png;base64,iVBORw0KGgo="));
        Assert.That(chat.GetProperty("stream_options").GetProperty("include_usage").GetBoolean(), Is.True, "usage for message_delta");
    }

    [TestCase("""{"max_tokens":10,"messages":[]}""", "model")]
    [TestCase("""{"model":"m","messages":[]}""", "max_tokens")]
    [TestCase("""{"model":"m","max_tokens":10}""", "messages")]
    [TestCase("""{"model":"m","max_tokens":10,"messages":[{"role":"system","content":"x"}]}""", "role")]
    [TestCase("""{"model":"m","max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result"}]}]}""", "tool_use_id")]
    [TestCase("""not json""", "JSON")]
    public void A_body_that_is_not_a_messages_request_is_refused_naming_the_reason(string body, string named)
    {
        var translation = AnthropicInboundApi.Instance.TranslateRequest(Encoding.UTF8.GetBytes(body), out var error);

        Assert.That(translation, Is.Null);
        Assert.That(error!.Status, Is.EqualTo(400));
        Assert.That(error.Message, Does.Contain(named));
    }
}
