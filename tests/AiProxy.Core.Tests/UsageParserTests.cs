using System.Text;
using AiProxy.Usage;
using NUnit.Framework;

namespace AiProxy.Tests;

/// <summary>Usage, model and errors read from the events of chat and Responses API streams.</summary>
public sealed class UsageParserTests
{
    [Test]
    public void Cached_prompt_tokens_and_cache_writes_are_read_from_the_usage_details()
    {
        var usage = new UsageData();
        var json = """{"id":"x","usage":{"prompt_tokens":100,"completion_tokens":5,"total_tokens":105,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":64},"cache_creation_input_tokens":7}}"""u8;

        UsageParser.ReadChunk(json, usage, readModel: false);

        Assert.That(usage.PromptTokens, Is.EqualTo(100));
        Assert.That(usage.CachedPromptTokens, Is.EqualTo(64));
        Assert.That(usage.CacheWriteTokens, Is.EqualTo(7));
        Assert.That(usage.CompletionTokens, Is.EqualTo(5));
    }

    [Test]
    public void Anthropic_usage_adds_its_cache_reads_and_writes_to_the_input_tokens_and_keeps_them_apart()
    {
        var usage = new UsageData();
        var json = """{"type":"message","usage":{"input_tokens":10,"cache_creation_input_tokens":4,"cache_read_input_tokens":6,"output_tokens":3}}"""u8;

        UsageParser.ReadChunk(json, usage, readModel: false);

        Assert.That(usage.PromptTokens, Is.EqualTo(20), "input_tokens leaves the cache out; the prompt counts it");
        Assert.That(usage.CachedPromptTokens, Is.EqualTo(6));
        Assert.That(usage.CacheWriteTokens, Is.EqualTo(4));
        Assert.That(usage.TotalTokens, Is.EqualTo(23));
    }

    [Test]
    public void Cache_reads_beside_an_openai_prompt_are_already_in_it()
    {
        var usage = new UsageData();
        var json = """{"usage":{"prompt_tokens":100,"completion_tokens":5,"cache_read_input_tokens":30}}"""u8;

        UsageParser.ReadChunk(json, usage, readModel: false);

        Assert.That(usage.PromptTokens, Is.EqualTo(100));
        Assert.That(usage.CachedPromptTokens, Is.EqualTo(30));
    }

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

    private static (long? Prompt, long? Completion, long? Total) ReadBodyUsage(string body, int chunkSize)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var finder = default(TopLevelUsageFinder);
        for (var i = 0; i < bytes.Length; i += chunkSize)
        {
            finder.Scan(bytes.AsSpan(i, Math.Min(chunkSize, bytes.Length - i)));
        }

        var usage = new UsageData();
        if (finder.UsageAt >= 0)
        {
            UsageParser.ReadUsageMember(bytes.AsSpan((int)finder.UsageAt), usage);
        }

        return (usage.PromptTokens, usage.CompletionTokens, usage.TotalTokens);
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(4096)]
    public void A_body_usage_is_the_top_level_member_not_one_in_metadata_or_a_message(int chunkSize)
    {
        var body = """
            {"id":"c","choices":[{"message":{"role":"assistant","content":"say \"usage\": {\"total_tokens\":1}","usage":{"total_tokens":2}}}],
             "usage" : {"prompt_tokens":7,"completion_tokens":3,"total_tokens":10},
             "metadata":{"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":3}},"note":"usage","list":["usage",{"usage":{"total_tokens":4}}]}
            """;

        Assert.That(ReadBodyUsage(body, chunkSize), Is.EqualTo(((long?)7, (long?)3, (long?)10)));
    }

    [Test]
    public void A_body_with_usage_only_in_metadata_has_no_usage()
        => Assert.That(ReadBodyUsage("""{"id":"c","metadata":{"usage":{"total_tokens":3}},"x":"\"usage\":{}"}""", 5), Is.EqualTo(((long?)null, (long?)null, (long?)null)));

    [Test]
    public void A_responses_api_body_gives_its_top_level_usage()
        => Assert.That(
            ReadBodyUsage("""{"id":"resp_1","object":"response","usage":{"input_tokens":5,"output_tokens":2,"total_tokens":7},"metadata":{"usage":"x"}}""", 3),
            Is.EqualTo(((long?)5, (long?)2, (long?)7)));

    [Test]
    public void A_stream_chunk_ignores_a_usage_nested_in_metadata()
    {
        var usage = new UsageData();

        var info = UsageParser.ReadChunk("""{"id":"c","choices":[],"metadata":{"usage":{"total_tokens":99}}}"""u8, usage, readModel: false);

        Assert.That(info.HasUsage, Is.False);
        Assert.That(usage.TotalTokens, Is.Null);
    }
}
