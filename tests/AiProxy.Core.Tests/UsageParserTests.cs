using System.Text;
using AiProxy.Forwarding;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Usage, model and errors read from the events of chat and Responses API streams.</summary>
public sealed class UsageParserTests
{
    [Test]
    public void A_chat_usage_chunk_gives_its_tokens()
    {
        var usage = new UsageData();

        var info = UsageParser.ReadChunk(
            """{"id":"c","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}"""u8, usage, readModel: true);

        Assert.That((info.HasUsage, info.ChoicesEmpty, info.IsError), Is.EqualTo((true, true, false)));
        Assert.That((usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens, usage.ResponseModel), Is.EqualTo((7L, 3L, 10L, "gpt-4o-mini")));
    }

    [Test]
    public void A_responses_api_completed_event_gives_the_usage_and_model_nested_in_its_response()
    {
        var usage = new UsageData();
        var json = Encoding.UTF8.GetBytes("""
            {"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","object":"response","model":"gpt-4.1-mini",
             "output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}],
             "usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":7}}}
            """);

        var info = UsageParser.ReadChunk(json, usage, readModel: true);

        Assert.That(info.HasUsage, Is.True);
        Assert.That(info.IsError, Is.False);
        Assert.That((usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens, usage.ResponseModel), Is.EqualTo((5L, 2L, 7L, "gpt-4.1-mini")));
    }

    [Test]
    public void A_model_that_is_not_a_string_is_skipped_whole_and_the_usage_after_it_still_read()
    {
        var usage = new UsageData();

        var info = UsageParser.ReadChunk(
            """{"model":{"usage":{"prompt_tokens":99}},"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"""u8, usage, readModel: true);

        Assert.That(info.HasUsage, Is.True);
        Assert.That((usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens, usage.ResponseModel), Is.EqualTo((1L, 2L, 3L, (string?)null)));
    }

    [TestCase("""{"type":"error","code":"server_error","message":"boom","sequence_number":1}""")]
    [TestCase("""{"type":"response.failed","response":{"id":"r","status":"failed","error":{"code":"server_error","message":"boom"}}}""")]
    [TestCase("""{"error":{"message":"boom","type":"server_error"}}""")]
    public void Error_events_of_either_api_are_recognised(string json)
        => Assert.That(UsageParser.ReadChunk(Encoding.UTF8.GetBytes(json), new UsageData(), readModel: true).IsError, Is.True);

    [Test]
    public void A_responses_api_progress_event_is_no_error()
        => Assert.That(UsageParser.ReadChunk("""{"type":"response.output_text.delta","delta":"hi"}"""u8, new UsageData(), readModel: true).IsError, Is.False);
}
