using System.Text.Json;
using AiProxy.Usage;

namespace AiProxy.Protocols.Anthropic;

/// <summary>
/// Reads usage from Messages API answers relayed as they are (an Anthropic client's request forwarded natively):
/// <c>message_start</c>'s <c>message.usage</c> and model, <c>message_delta</c>'s cumulative <c>usage</c> (each number replaces
/// the last, never added), <c>error</c> events, and a JSON answer's top-level <c>usage</c>. The prompt counts cache writes
/// and reads too, as OpenAI's <c>prompt_tokens</c> does, and both are kept apart as well, so each is priced at its own rate.
/// </summary>
internal sealed class AnthropicUsageReader : IUsageReader
{
    public static AnthropicUsageReader Instance { get; } = new();

    public UsageParser.ChunkInfo ReadChunk(ReadOnlySpan<byte> json, UsageData usage, bool readModel)
    {
        var evt = AnthropicEvent.Read(json);
        if (!evt.IsValid)
        {
            return default;
        }

        string? model = null;
        if (readModel && !evt.MessageModel.IsEmpty)
        {
            var token = new Utf8JsonReader(evt.MessageModel);
            model = token.Read() ? token.GetString() : null;
            usage.ResponseModel ??= model;
        }

        var hasUsage = Apply(usage, evt.InputTokens, evt.OutputTokens, evt.CacheCreationTokens, evt.CacheReadTokens);
        var isError = evt.Type.SequenceEqual("error"u8);
        return new UsageParser.ChunkInfo(hasUsage, ChoicesEmpty: false, isError, model);
    }

    public bool ReadUsageMember(ReadOnlySpan<byte> member, UsageData usage)
    {
        // "usage":{...} as the body's last members leave it: read as one event whose top level holds it.
        var end = member.LastIndexOf((byte)'}');
        if (end < 0)
        {
            return false;
        }

        var probe = new byte[member.Length + 2];
        probe[0] = (byte)'{';
        member[..(end + 1)].CopyTo(probe.AsSpan(1));
        probe[end + 2] = (byte)'}';
        var evt = AnthropicEvent.Read(probe.AsSpan(0, end + 3));
        return evt.IsValid && Apply(usage, evt.InputTokens, evt.OutputTokens, evt.CacheCreationTokens, evt.CacheReadTokens);
    }

    public string? ReadModelFromHead(ReadOnlySpan<byte> head) => UsageParser.ReadModelFromHead(head);

    private static bool Apply(UsageData usage, long? input, long? output, long? cacheCreation, long? cacheRead)
    {
        if (input is null && output is null && cacheCreation is null && cacheRead is null)
        {
            return false;
        }

        if (input is not null || cacheCreation is not null || cacheRead is not null)
        {
            // Each count replaces the last; one not repeated (a message_delta that gives input_tokens only) keeps its value.
            var writes = cacheCreation ?? usage.CacheWriteTokens;
            var reads = cacheRead ?? usage.CachedPromptTokens;
            var uncached = input ?? ((usage.PromptTokens ?? 0) - (usage.CacheWriteTokens ?? 0) - (usage.CachedPromptTokens ?? 0));
            usage.PromptTokens = uncached + (writes ?? 0) + (reads ?? 0);
            usage.CacheWriteTokens = writes;
            usage.CachedPromptTokens = reads;
        }

        usage.CompletionTokens = output ?? usage.CompletionTokens;
        usage.TotalTokens = (usage.PromptTokens ?? 0) + (usage.CompletionTokens ?? 0);
        return true;
    }
}
