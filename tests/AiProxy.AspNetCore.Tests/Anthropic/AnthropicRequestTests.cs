using System.Net;
using System.Text.Json;
using OpenAI.Chat;

namespace AiProxy.AspNetCore.Tests.Anthropic;

/// <summary>How an OpenAI chat request reaches a <c>Kind: anthropic</c> provider: the mapping rules, seen in what the fake
/// Anthropic API received (and accepted: it refuses what the real API refuses).</summary>
public sealed class AnthropicRequestTests : AnthropicFixture
{
    [Test]
    public async Task System_and_developer_messages_wherever_they_stand_go_in_order_into_the_system_blocks()
    {
        await SendAsync("""
            {"model":"claude-sonnet-4-5","messages":[
              {"role":"system","content":"One."},{"role":"user","content":"hi"},
              {"role":"developer","content":[{"type":"text","text":"Two.","cache_control":{"type":"ephemeral"}}]},
              {"role":"assistant","content":"hello"},{"role":"system","content":"Three."},{"role":"user","content":"again"}]}
            """);

        var body = LastMessagesBody();
        var system = body.GetProperty("system").EnumerateArray().ToList();
        Assert.That(system.Select(b => b.GetProperty("text").GetString()), Is.EqualTo(new[] { "One.", "Two.", "Three." }));
        Assert.That(system[1].GetProperty("cache_control").GetProperty("type").GetString(), Is.EqualTo("ephemeral"), "cache_control is copied");
        Assert.That(body.GetProperty("messages").EnumerateArray().Select(m => m.GetProperty("role").GetString()), Is.EqualTo(new[] { "user", "assistant", "user" }));
    }

    [Test]
    public async Task Sampling_limits_stops_and_user_are_mapped_as_anthropic_names_them()
    {
        await SendAsync("""
            {"model":"claude-sonnet-4-5","temperature":1.7,"top_p":0.5,"max_tokens":300,"max_completion_tokens":200,
             "stop":["\n","  ","END"],"user":"user-42","messages":[{"role":"user","content":"hi"}]}
            """);

        var body = LastMessagesBody();
        Assert.That(body.GetProperty("temperature").GetDouble(), Is.EqualTo(1.0), "clamped to Anthropic's range");
        Assert.That(body.TryGetProperty("top_p", out _), Is.False, "temperature wins: Anthropic takes only one");
        Assert.That(body.GetProperty("max_tokens").GetInt32(), Is.EqualTo(200), "max_completion_tokens wins over max_tokens");
        Assert.That(body.GetProperty("stop_sequences").EnumerateArray().Select(s => s.GetString()), Is.EqualTo(new[] { "END" }), "whitespace-only stops dropped");
        Assert.That(body.GetProperty("metadata").GetProperty("user_id").GetString(), Is.EqualTo("user-42"));
    }

    [Test]
    public async Task A_tool_turn_becomes_tool_use_blocks_and_one_user_message_of_tool_results()
    {
        await SendAsync("""
            {"model":"claude-sonnet-4-5","parallel_tool_calls":false,"tool_choice":"required",
             "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}},"cache_control":{"type":"ephemeral"}},
                      {"type":"function","function":{"name":"get_time"}}],
             "messages":[{"role":"user","content":"weather and time?"},
               {"role":"assistant","content":"","tool_calls":[
                 {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                 {"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},
               {"role":"tool","tool_call_id":"call_1","content":"sunny"},
               {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]}]}
            """);

        var body = LastMessagesBody();
        var messages = body.GetProperty("messages").EnumerateArray().ToList();
        Assert.That(messages, Has.Count.EqualTo(3));
        var assistant = messages[1].GetProperty("content").EnumerateArray().ToList();
        Assert.That(assistant.Select(b => b.GetProperty("type").GetString()), Is.EqualTo(new[] { "tool_use", "tool_use" }), "the empty text next to the calls is left out");
        Assert.That(assistant[0].GetProperty("input").GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(assistant[1].GetProperty("input").EnumerateObject(), Is.Empty, "no arguments: an empty input object");
        var results = messages[2].GetProperty("content").EnumerateArray().ToList();
        Assert.That(results.Select(b => b.GetProperty("tool_use_id").GetString()), Is.EqualTo(new[] { "call_1", "call_2" }));
        var choice = body.GetProperty("tool_choice");
        Assert.That(choice.GetProperty("type").GetString(), Is.EqualTo("any"));
        Assert.That(choice.GetProperty("disable_parallel_tool_use").GetBoolean(), Is.True);
        var tools = body.GetProperty("tools").EnumerateArray().ToList();
        Assert.That(tools[0].GetProperty("input_schema").GetProperty("type").GetString(), Is.EqualTo("object"));
        Assert.That(tools[0].GetProperty("cache_control").GetProperty("type").GetString(), Is.EqualTo("ephemeral"));
        Assert.That(tools[1].GetProperty("input_schema").GetProperty("type").GetString(), Is.EqualTo("object"), "a tool without parameters still has a schema");
    }

    [Test]
    public async Task Images_go_as_base64_or_url_sources()
    {
        await SendAsync("""
            {"model":"claude-sonnet-4-5","messages":[{"role":"user","content":[
              {"type":"text","text":"Qu'est-ce que c'est ? 猫"},
              {"type":"image_url","image_url":{"url":"DATA:image/PNG;base64,iVBO+Rw0/KGgo="}},
              {"type":"image_url","image_url":{"url":"https://example.invalid/cat.jpg"}}]}]}
            """);

        var content = LastMessagesBody().GetProperty("messages")[0].GetProperty("content");
        Assert.That(content[1].GetProperty("source").GetProperty("type").GetString(), Is.EqualTo("base64"));
        Assert.That(content[1].GetProperty("source").GetProperty("media_type").GetString(), Is.EqualTo("image/png"));
        Assert.That(content[1].GetProperty("source").GetProperty("data").GetString(), Is.EqualTo("iVBO+Rw0/KGgo="));
        var sent = MessagesSent()[^1].BodyText;
        Assert.That(sent, Does.Contain("iVBO+Rw0/KGgo=").And.Contain("c'est ? 猫"), "only what JSON requires is escaped");
        Assert.That(content[2].GetProperty("source").GetProperty("url").GetString(), Is.EqualTo("https://example.invalid/cat.jpg"));
    }

    [TestCase("""{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}]}""", "image/bmp")]
    [TestCase("""{"model":"claude-sonnet-4-5","n":2,"messages":[{"role":"user","content":"hi"}]}""", "n > 1")]
    [TestCase("""{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{not json"}}]},{"role":"tool","tool_call_id":"c","content":"x"}]}""", "not a JSON object")]
    public async Task A_request_anthropic_cannot_take_gets_400_before_anything_is_sent(string json, string reason)
    {
        using var response = await PostChatAsync(json);

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(message, Does.Contain(reason));
        Assert.That(MessagesSent(), Is.Empty);
    }

    [Test]
    public async Task Embeddings_for_a_model_only_anthropic_providers_serve_get_400_naming_the_reason()
    {
        using var response = await Proxy.Client.PostAsync("v1/embeddings", new StringContent("""{"model":"claude-sonnet-4-5","input":"hi"}""", System.Text.Encoding.UTF8, "application/json"));

        var message = await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request_error", "invalid_request");
        Assert.That(message, Does.Contain("Anthropic provider").And.Contain("chat/completions"));
        Assert.That(Claude.Requests.Where(r => r.Method == "POST"), Is.Empty);
    }

    [Test]
    public async Task Response_format_goes_as_a_forced_tool_whose_call_comes_back_as_content()
    {
        Claude.Behavior.AnthropicContent = [Block(new { type = "tool_use", id = "toolu_1", name = "json_response", input = new { answer = 42 } })];
        var options = new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("answer", BinaryData.FromString("""{"type":"object","properties":{"answer":{"type":"integer"}}}""")),
        };

        ChatCompletion completion = await Sdk().CompleteChatAsync([new UserChatMessage("The answer?")], options);

        Assert.That(JsonDocument.Parse(completion.Content[0].Text).RootElement.GetProperty("answer").GetInt32(), Is.EqualTo(42));
        Assert.That(completion.ToolCalls, Is.Empty);
        Assert.That(completion.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        var body = LastMessagesBody();
        Assert.That(body.GetProperty("tool_choice").GetProperty("name").GetString(), Is.EqualTo("json_response"));
        Assert.That(body.GetProperty("tools")[0].GetProperty("input_schema").GetProperty("properties").TryGetProperty("answer", out _), Is.True);
    }

    [Test]
    public async Task A_refusal_is_mapped_to_content_filter()
    {
        Claude.Behavior.AnthropicStopReason = "refusal";

        ChatCompletion completion = await Sdk().CompleteChatAsync([new UserChatMessage("Something bad")]);

        Assert.That(completion.FinishReason, Is.EqualTo(ChatFinishReason.ContentFilter));
    }

    [Test]
    public async Task Thinking_blocks_come_back_and_go_out_again_so_thinking_survives_a_tool_turn()
    {
        Claude.Behavior.AnthropicContent =
        [
            Block(new { type = "thinking", thinking = "Need the weather.", signature = "sig-1" }),
            Block(new { type = "tool_use", id = "toolu_1", name = "get_weather", input = new { city = "Paris" } }),
        ];
        const string Tools = """[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]""";
        using var first = await PostChatAsync($$"""{"model":"claude-sonnet-4-5","reasoning_effort":"low","max_tokens":2048,"tools":{{Tools}},"messages":[{"role":"user","content":"weather?"}]}""");
        var message = JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("message");
        Assert.That(message.GetProperty("reasoning_content").GetString(), Is.EqualTo("Need the weather."));
        Assert.That(message.GetProperty("content").ValueKind, Is.EqualTo(JsonValueKind.Null), "thinking is never content");
        Claude.Behavior.AnthropicContent = null;

        // The client sends the assistant message back as it came, with the tool's result: the fake refuses a tool turn
        // without its thinking block when thinking is on, as the real API does.
        using var second = await PostChatAsync($$"""
            {"model":"claude-sonnet-4-5","reasoning_effort":"low","max_tokens":2048,"tools":{{Tools}},"messages":[{"role":"user","content":"weather?"},
             {{message.GetRawText()}},{"role":"tool","tool_call_id":"toolu_1","content":"sunny"}]}
            """);

        Assert.That((int)second.StatusCode, Is.EqualTo(200), await second.Content.ReadAsStringAsync());
        var body = LastMessagesBody();
        Assert.That(body.GetProperty("thinking").GetProperty("type").GetString(), Is.EqualTo("enabled"));
        var assistant = body.GetProperty("messages")[1].GetProperty("content");
        Assert.That(assistant[0].GetProperty("type").GetString(), Is.EqualTo("thinking"));
        Assert.That(assistant[0].GetProperty("signature").GetString(), Is.EqualTo("sig-1"));
    }

    [Test]
    public async Task A_tool_turn_without_its_thinking_blocks_turns_thinking_off_for_that_request()
    {
        await SendAsync("""
            {"model":"claude-sonnet-4-5","reasoning_effort":"high","temperature":0.3,"max_tokens":20000,"messages":[{"role":"user","content":"weather?"},
             {"role":"assistant","tool_calls":[{"id":"t1","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
             {"role":"tool","tool_call_id":"t1","content":"sunny"}]}
            """);

        var body = LastMessagesBody();
        Assert.That(body.TryGetProperty("thinking", out _), Is.False);
        Assert.That(body.GetProperty("temperature").GetDouble(), Is.EqualTo(0.3));
    }

    [Test]
    public async Task With_thinking_on_temperature_is_not_sent()
    {
        await SendAsync("""{"model":"claude-sonnet-4-5","reasoning_effort":"medium","temperature":0.3,"max_tokens":8000,"messages":[{"role":"user","content":"?"}]}""");

        var body = LastMessagesBody();
        Assert.That(body.GetProperty("thinking").GetProperty("budget_tokens").GetInt32(), Is.EqualTo(4096));
        Assert.That(body.TryGetProperty("temperature", out _), Is.False);
    }

    private async Task SendAsync(string json)
    {
        using var response = await PostChatAsync(json);
        Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
    }
}
