using AiProxy.Relay;
using AiProxy.Usage;

namespace AiProxy.Caching;

/// <summary>Server-sent events as the cache stores them: where each ends, and which one is the usage-only chunk.</summary>
internal static class StoredEvents
{
    /// <summary>Whether <paramref name="evt"/> is the chunk that carries only usage (<c>"choices":[]</c> and a <c>usage</c>),
    /// the one OpenAI sends last when <c>stream_options.include_usage</c> is set.</summary>
    public static bool IsUsageChunk(ReadOnlySpan<byte> evt)
    {
        var payload = SseFraming.DataPayload(evt);
        if (payload.IsEmpty || payload.IndexOf("\"usage\""u8) < 0)
        {
            return false;
        }

        var info = UsageParser.ReadChunk(payload, new UsageData(), readModel: false);
        return info.HasUsage && info.ChoicesEmpty;
    }

    /// <summary>The end offsets of the complete events in <paramref name="events"/>, and the usage chunk's index (or -1).</summary>
    public static (int[] Ends, int UsageEvent) Index(ReadOnlySpan<byte> events)
    {
        var ends = new List<int>();
        var usage = -1;
        var offset = 0;
        while (offset < events.Length)
        {
            var end = SseFraming.EventEnd(events[offset..]);
            if (end < 0)
            {
                end = events.Length - offset; // a last event without its blank line is kept as it came
            }

            if (usage < 0 && IsUsageChunk(events.Slice(offset, end)))
            {
                usage = ends.Count;
            }

            offset += end;
            ends.Add(offset);
        }

        return (ends.ToArray(), usage);
    }
}
