using AiProxy.Usage;

namespace AiProxy.Caching;

/// <summary>Server-sent events as the cache stores them: where each ends, and which one is the usage-only chunk.</summary>
internal static class StoredEvents
{
    /// <summary>The end (after its blank line) of the event that starts <paramref name="events"/>, or -1.</summary>
    public static int EventEnd(ReadOnlySpan<byte> events)
    {
        var best = int.MaxValue;
        var lf = events.IndexOf("\n\n"u8);
        if (lf >= 0)
        {
            best = lf + 2;
        }

        var crlf = events.IndexOf("\n\r\n"u8);
        if (crlf >= 0 && crlf + 3 < best)
        {
            best = crlf + 3;
        }

        var cr = events.IndexOf("\r\r"u8);
        if (cr >= 0 && cr + 2 < best)
        {
            best = cr + 2;
        }

        return best == int.MaxValue ? -1 : best;
    }

    /// <summary>Whether <paramref name="evt"/> is the chunk that carries only usage (<c>"choices":[]</c> and a <c>usage</c>),
    /// the one OpenAI sends last when <c>stream_options.include_usage</c> is set.</summary>
    public static bool IsUsageChunk(ReadOnlySpan<byte> evt)
    {
        var payload = DataPayload(evt);
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
            var end = EventEnd(events[offset..]);
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

    private static ReadOnlySpan<byte> DataPayload(ReadOnlySpan<byte> evt)
    {
        while (!evt.IsEmpty)
        {
            var lineEnd = evt.IndexOfAny((byte)'\n', (byte)'\r');
            var line = lineEnd < 0 ? evt : evt[..lineEnd];
            evt = lineEnd < 0 ? default : evt[(lineEnd + 1)..];
            if (line.StartsWith("data:"u8))
            {
                line = line[5..];
                return !line.IsEmpty && line[0] == (byte)' ' ? line[1..] : line;
            }
        }

        return default;
    }
}
