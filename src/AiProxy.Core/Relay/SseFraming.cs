namespace AiProxy.Relay;

/// <summary>How server-sent events are framed: where an event ends and what its <c>data:</c> line holds. Shared by the
/// live relay and the cache, which both cut the same byte streams.</summary>
internal static class SseFraming
{
    /// <summary>The end (after its blank line) of the event that starts <paramref name="events"/>, or -1 while it is
    /// incomplete. Lines end with LF, CRLF or (the SSE spec allows it) a bare CR.</summary>
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
