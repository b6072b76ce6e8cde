using System.Buffers;
using System.IO.Pipelines;
using AiProxy.Relay;

namespace AiProxy.Caching;

/// <summary>Writes a stored answer to a client at the client's own pace: a JSON body at once, a stream's events back to
/// back (flushed every few kilobytes, not per event, since nothing is waiting on an upstream), without the usage chunk
/// unless the client asked for <c>include_usage</c>.</summary>
internal static class AnswerReplay
{
    private const int FlushEvery = 16 * 1024;

    /// <returns><see langword="false"/> when the client went away first.</returns>
    public static async ValueTask<bool> WriteAsync(CachedAnswer answer, PipeWriter output, bool includeUsage, CancellationToken clientAborted)
    {
        if (!answer.IsEventStream)
        {
            output.Write(answer.Body);
            return await RelayFlush.TryFlushAsync(output, clientAborted).ConfigureAwait(false);
        }

        var start = 0;
        var pending = 0;
        for (var i = 0; i < answer.EventEnds.Length; i++)
        {
            var end = answer.EventEnds[i];
            if (i != answer.UsageEvent || includeUsage)
            {
                output.Write(answer.Body.AsSpan(start, end - start));
                pending += end - start;
            }

            start = end;
            if (pending >= FlushEvery)
            {
                pending = 0;
                if (!await RelayFlush.TryFlushAsync(output, clientAborted).ConfigureAwait(false))
                {
                    return false;
                }
            }
        }

        return await RelayFlush.TryFlushAsync(output, clientAborted).ConfigureAwait(false);
    }

    /// <summary>The length the client gets: the body, less the usage chunk it did not ask for.</summary>
    public static long Length(CachedAnswer answer, bool includeUsage)
    {
        if (!answer.IsEventStream || includeUsage || answer.UsageEvent < 0)
        {
            return answer.Body.Length;
        }

        var start = answer.UsageEvent == 0 ? 0 : answer.EventEnds[answer.UsageEvent - 1];
        return answer.Body.Length - (answer.EventEnds[answer.UsageEvent] - start);
    }
}
