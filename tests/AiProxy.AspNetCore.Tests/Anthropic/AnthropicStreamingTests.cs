using System.Text;
using System.Text.Json;
using OpenAI.Chat;

namespace AiProxy.AspNetCore.Tests.Anthropic;

/// <summary>Streamed chat completions from an OpenAI client, translated from a <c>Kind: anthropic</c> provider's event stream.</summary>
public sealed class AnthropicStreamingTests : AnthropicFixture
{
    private static readonly string[] ParallelTools =
    [
        Block(new { type = "text", text = "Let me look." }),
        Block(new { type = "tool_use", id = "toolu_a", name = "get_weather", input = new { city = "Paris" } }),
        Block(new { type = "tool_use", id = "toolu_b", name = "get_time", input = new { } }),
    ];

    [Test]
    public async Task Streamed_text_arrives_as_openai_chunks_with_one_id_and_the_role_on_the_first()
    {
        using var response = await StreamAsync("""{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();

        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.That(chunks.Select(c => c.GetProperty("id").GetString()).Distinct().Count(), Is.EqualTo(1), "one chunk id per stream");
        Assert.That(chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString(), Is.EqualTo("assistant"));
        Assert.That(chunks.Skip(1).Any(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("role", out _)), Is.False);
        var text = string.Concat(chunks.Select(c => c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : ""));
        Assert.That(text, Is.EqualTo(Claude.GetReplyText()));
        Assert.That(chunks[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
        Assert.That(chunks.Any(c => c.TryGetProperty("usage", out _)), Is.False, "no usage chunk unless the client asked");
    }

    [Test]
    public async Task Cumulative_message_delta_usage_replaces_the_start_usage_instead_of_adding_to_it()
    {
        var client = Sdk();
        StreamingChatCompletionUpdate? last = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("hi")], new ChatCompletionOptions()))
        {
            last = update.Usage is not null ? update : last;
        }

        // The fake's message_start says output_tokens 1, its message_delta the whole answer's count: adding would be one more.
        var expectedOutput = Block(new { type = "text", text = Claude.GetReplyText() }).Length / 4;
        Assert.That(last?.Usage, Is.Not.Null, "the SDK asks for usage");
        Assert.That(last!.Usage.OutputTokenCount, Is.EqualTo(expectedOutput));
        Assert.That(last.Usage.InputTokenCount, Is.EqualTo(MessagesSent().Single().Body.Length / 4));
    }

    [Test]
    public async Task Parallel_streamed_tool_calls_after_a_text_block_are_indexed_from_zero_over_tools_only()
    {
        Claude.Behavior.AnthropicContent = ParallelTools;

        var calls = await CollectToolCallsAsync();

        Assert.That(calls.Keys, Is.EquivalentTo(new[] { 0, 1 }), "the text block before them does not shift the index");
        Assert.That(calls[0].Id, Is.EqualTo("toolu_a"));
        Assert.That(calls[0].Name, Is.EqualTo("get_weather"));
        Assert.That(JsonDocument.Parse(calls[0].Arguments.ToString()).RootElement.GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(calls[1].Id, Is.EqualTo("toolu_b"));
        Assert.That(calls[1].Arguments.ToString(), Is.EqualTo("{}"), "a tool with no arguments ends with an empty object, never \"\"");
    }

    [Test]
    public async Task Events_split_inside_their_json_across_reads_translate_the_same()
    {
        Claude.Behavior.AnthropicContent = ParallelTools;
        Claude.Behavior.SplitEvents = true;

        var calls = await CollectToolCallsAsync();

        Assert.That(calls.Keys, Is.EquivalentTo(new[] { 0, 1 }));
        Assert.That(JsonDocument.Parse(calls[0].Arguments.ToString()).RootElement.GetProperty("city").GetString(), Is.EqualTo("Paris"));
        Assert.That(calls[1].Arguments.ToString(), Is.EqualTo("{}"));
    }

    [Test]
    public async Task Server_tool_blocks_are_not_emitted_as_function_calls()
    {
        Claude.Behavior.AnthropicContent =
        [
            Block(new { type = "server_tool_use", id = "srvtoolu_1", name = "web_search", input = new { query = "weather" } }),
            Block(new { type = "web_search_tool_result", tool_use_id = "srvtoolu_1", content = Array.Empty<object>() }),
            Block(new { type = "text", text = "Sunny." }),
        ];
        Claude.Behavior.AnthropicStopReason = "end_turn";

        using var response = await StreamAsync("""{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"weather?"}]}""");
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();

        Assert.That(events.Any(e => e.Contains("tool_calls", StringComparison.Ordinal)), Is.False, string.Join("\n", events));
        Assert.That(events[^1], Is.EqualTo("[DONE]"));
        var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")).Where(c => c.GetArrayLength() > 0).ToList();
        Assert.That(string.Concat(chunks.Select(c => c[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : "")), Is.EqualTo("Sunny."));
        Assert.That(chunks[^1][0].GetProperty("finish_reason").GetString(), Is.EqualTo("stop"));
    }

    [Test]
    public async Task Thinking_streams_as_reasoning_content_and_a_signed_thinking_block_never_as_content()
    {
        Claude.Behavior.AnthropicContent =
        [
            Block(new { type = "thinking", thinking = "Let me think.", signature = "sig-123" }),
            Block(new { type = "text", text = "42" }),
        ];

        using var response = await StreamAsync("""{"model":"claude-sonnet-4-5","stream":true,"reasoning_effort":"low","max_tokens":2000,"messages":[{"role":"user","content":"?"}]}""");
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
        var deltas = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("delta")).ToList();

        Assert.That(string.Concat(deltas.Select(d => d.TryGetProperty("reasoning_content", out var r) ? r.GetString() : "")), Is.EqualTo("Let me think."));
        Assert.That(string.Concat(deltas.Select(d => d.TryGetProperty("content", out var c) ? c.GetString() : "")), Is.EqualTo("42"));
        var block = deltas.Single(d => d.TryGetProperty("thinking_blocks", out _)).GetProperty("thinking_blocks")[0];
        Assert.That(block.GetProperty("thinking").GetString(), Is.EqualTo("Let me think."));
        Assert.That(block.GetProperty("signature").GetString(), Is.EqualTo("sig-123"));
        var thinking = LastMessagesBody().GetProperty("thinking");
        Assert.That(thinking.GetProperty("budget_tokens").GetInt32(), Is.EqualTo(1024));
    }

    [Test]
    public async Task A_redacted_thinking_block_streams_whole_in_thinking_blocks_as_the_answer_that_is_not_streamed_carries_it()
    {
        Claude.Behavior.AnthropicContent =
        [
            Block(new { type = "thinking", thinking = "Let me think.", signature = "sig-123" }),
            Block(new { type = "redacted_thinking", data = "EmwKAhgBEgy3va3pzix/LafPsn4a" }),
            Block(new { type = "text", text = "42" }),
        ];

        using var whole = await StreamAsync("""{"model":"claude-sonnet-4-5","reasoning_effort":"low","max_tokens":2000,"messages":[{"role":"user","content":"?"}]}""");
        var expected = JsonDocument.Parse(await whole.Content.ReadAsStringAsync()).RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("thinking_blocks");
        using var response = await StreamAsync("""{"model":"claude-sonnet-4-5","stream":true,"reasoning_effort":"low","max_tokens":2000,"messages":[{"role":"user","content":"?"}]}""");
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();
        var deltas = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")).Where(c => c.GetArrayLength() > 0)
            .Select(c => c[0].GetProperty("delta")).ToList();

        var streamed = deltas.Where(d => d.TryGetProperty("thinking_blocks", out _)).SelectMany(d => d.GetProperty("thinking_blocks").EnumerateArray()).ToList();
        Assert.That(streamed.Select(b => b.GetRawText()), Is.EqualTo(expected.EnumerateArray().Select(b => b.GetRawText())),
            "the same blocks, in the same order, as the answer that is not streamed");
        Assert.That(streamed[1].GetProperty("type").GetString(), Is.EqualTo("redacted_thinking"));
        Assert.That(streamed[1].GetProperty("data").GetString(), Is.EqualTo("EmwKAhgBEgy3va3pzix/LafPsn4a"));
        Assert.That(string.Concat(deltas.Select(d => d.TryGetProperty("content", out var c) ? c.GetString() : "")), Is.EqualTo("42"));
    }

    [Test]
    public async Task An_error_event_after_the_first_content_ends_the_stream_with_an_openai_error_event_and_no_done()
    {
        Claude.Behavior.AnthropicErrorAfterEvents = 4; // message_start, ping, content_block_start, the first text delta

        using var response = await StreamAsync("""{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"hi"}]}""");
        var events = await new SseReader(await response.Content.ReadAsStreamAsync()).ReadAllAsync();

        Assert.That(events, Does.Not.Contain("[DONE]"));
        var error = JsonDocument.Parse(events[^1]).RootElement.GetProperty("error");
        Assert.That(error.GetProperty("code").GetString(), Is.EqualTo("overloaded_error"));
        Assert.That(error.GetProperty("message").GetString(), Is.EqualTo("Overloaded"));
    }

    private async Task<HttpResponseMessage> StreamAsync(string json)
    {
        var response = await PostChatAsync(json);
        Assert.That((int)response.StatusCode, Is.EqualTo(200), await PeekAsync(response));
        return response;
    }

    private static async Task<string> PeekAsync(HttpResponseMessage response)
        => (int)response.StatusCode == 200 ? string.Empty : await response.Content.ReadAsStringAsync();

    private async Task<Dictionary<int, (string? Id, string? Name, StringBuilder Arguments)>> CollectToolCallsAsync()
    {
        var options = new ChatCompletionOptions
        {
            Tools =
            {
                ChatTool.CreateFunctionTool("get_weather", "Weather of a city", BinaryData.FromString("""{"type":"object","properties":{"city":{"type":"string"}}}""")),
                ChatTool.CreateFunctionTool("get_time", "The time"),
            },
        };
        var calls = new Dictionary<int, (string? Id, string? Name, StringBuilder Arguments)>();
        ChatFinishReason? finish = null;
        await foreach (var update in Sdk().CompleteChatStreamingAsync([new UserChatMessage("Weather and time in Paris?")], options))
        {
            finish ??= update.FinishReason;
            foreach (var call in update.ToolCallUpdates)
            {
                var entry = calls.TryGetValue(call.Index, out var seen) ? seen : (null, null, new StringBuilder());
                entry.Id ??= call.ToolCallId;
                entry.Name ??= call.FunctionName;
                entry.Arguments.Append(call.FunctionArgumentsUpdate?.ToString());
                calls[call.Index] = entry;
            }
        }

        Assert.That(finish, Is.EqualTo(ChatFinishReason.ToolCalls));
        return calls;
    }
}
