namespace AiProxy.Relay;

/// <summary>How server-sent events are framed: where an event ends and what its <c>data:</c> line holds. Shared by the
/// live relay and the cache, which both cut the same byte streams.</summary>
internal static class SseFraming
{
    /// <summary>The end (after its blank line) of the event that starts <paramref name="events"/>, or -1 while it is
    /// incomplete. Lines end with LF, CRLF or (the SSE spec allows it) a bare CR.</summary>
    /// <remarks>One pass from line end to line end, so finding an event costs its own length: searching the whole
    /// buffer for each of the three endings made every event pay for all the events read behind it (quadratic in the
    /// events of one read, which a fast stream fills). The earliest line end that starts a blank line is the earliest
    /// end: a blank line that starts later cannot end sooner.</remarks>
    public static int EventEnd(ReadOnlySpan<byte> events)
    {
        var offset = 0;
        while (true)
        {
            var next = events[offset..].IndexOfAny((byte)'\n', (byte)'\r');
            if (next < 0)
            {
                return -1;
            }

            var at = offset + next;
            var rest = events[at..];
            if (rest.StartsWith("\n\n"u8) || rest.StartsWith("\r\r"u8))
            {
                return at + 2;
            }

            if (rest.StartsWith("\n\r\n"u8))
            {
                return at + 3;
            }

            offset = at + 1;
        }
    }

    /// <summary>The value of the event's first <c>data:</c> line (one leading space dropped), or empty.</summary>
    public static ReadOnlySpan<byte> DataPayload(ReadOnlySpan<byte> evt)
    {
        while (!evt.IsEmpty)
        {
            var lineEnd = evt.IndexOfAny((byte)'\n', (byte)'\r');
            var line = lineEnd < 0 ? evt : evt[..lineEnd];
            evt = lineEnd < 0 ? default : evt[(lineEnd + (evt[lineEnd] == (byte)'\r' && lineEnd + 1 < evt.Length && evt[lineEnd + 1] == (byte)'\n' ? 2 : 1))..];
            if (line.StartsWith("data:"u8))
            {
                line = line[5..];
                return !line.IsEmpty && line[0] == (byte)' ' ? line[1..] : line;
            }
        }

        return default;
    }
}
