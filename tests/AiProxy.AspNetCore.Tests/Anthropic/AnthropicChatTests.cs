using System.Net;
using System.Text.Json;
using OpenAI.Chat;

namespace AiProxy.AspNetCore.Tests.Anthropic;

/// <summary>Non-streamed chat completions from an OpenAI client, answered by a <c>Kind: anthropic</c> provider.</summary>
public sealed class AnthropicChatTests : AnthropicFixture
{
    [Test]
    public async Task Chat_completion_is_sent_as_a_messages_request_with_the_anthropic_headers_and_answered_in_openai_shape()
    {
        ChatCompletion completion = await Sdk().CompleteChatAsync([new SystemChatMessage("Be brief."), new UserChatMessage("Say hello")]);

        Assert.That(completion.Content[0].Text, Is.EqualTo(Claude.GetReplyText()));
        Assert.That(completion.Model, Is.EqualTo(Model));
        Assert.That(completion.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        var sent = MessagesSent().Single();
        Assert.That(sent.Headers["x-api-key"], Is.EqualTo("sk-upstream-claude-secret"));
        Assert.That(sent.Headers["anthropic-version"], Is.EqualTo("2023-06-01"));
        Assert.That(sent.Headers.ContainsKey("Authorization"), Is.False, "the key goes as x-api-key only");
        var body = LastMessagesBody();
        Assert.That(body.GetProperty("max_tokens").GetInt32(), Is.EqualTo(4096), "DefaultMaxTokens when the client sets no maximum");
        Assert.That(body.GetProperty("system")[0].GetProperty("text").GetString(), Is.EqualTo("Be brief."));
        Assert.That(body.GetProperty("messages").GetArrayLength(), Is.EqualTo(1));
        Assert.That(completion.Usage.InputTokenCount, Is.GreaterThan(0));
    }

    [Test]
    public async Task Usage_counts_cache_writes_and_reads_in_the_prompt_and_reports_the_reads_as_cached()
    {
        Claude.Behavior.AnthropicCacheReadTokens = 100;
        Claude.Behavior.AnthropicCacheCreationTokens = 20;

        ChatCompletion completion = await Sdk().CompleteChatAsync([new UserChatMessage("Say hello")]);

        var input = MessagesSent().Single().Body.Length / 4;
        Assert.That(completion.Usage.InputTokenCount, Is.EqualTo(input + 120));
        Assert.That(completion.Usage.InputTokenDetails.CachedTokenCount, Is.EqualTo(100));
    }
}
