using System.IO.Pipelines;
using AiProxy.Attempts;
using AiProxy.Inbound;
using AiProxy.Usage;

namespace AiProxy.Relay;

/// <summary>
/// Relays a JSON body that the client's API needs translated (<see cref="IResponseTranslator"/>): a translation needs the
/// whole answer, so it is read into a pooled buffer (bounded), its usage and model read as for a relayed body, then written
/// translated in one flush. Event streams never come here: they are translated event by event.
/// </summary>
internal static class TranslatedBodyRelay
{
    /// <summary>The largest answer translated; a larger one is treated as a broken upstream.</summary>
    private const int MaxBodyBytes = 64 * 1024 * 1024;

    public static async ValueTask<RelayOutcome> CopyAsync(
        ForwardResult result, Stream body, IResponseTranslator translator, PipeWriter output,
        TimeSpan idleTimeout, TimeSpan writeTimeout, TimeProvider time, CancellationToken clientAborted)
    {
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var registration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), idle);
        using var buffer = new PooledBufferWriter(16 * 1024);
        while (true)
        {
            if (buffer.WrittenCount > MaxBodyBytes)
            {
                return RelayOutcome.UpstreamFailed;
            }

            int read;
            try
            {
                idle.CancelAfter(idleTimeout);
                read = await body.ReadAsync(buffer.GetMemory(8 * 1024), idle.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (UpstreamReadFailure.Ends(ex))
            {
                return UpstreamReadFailure.Outcome(ex, clientAborted);
            }

            if (read == 0)
            {
                break;
            }

            buffer.Advance(read);
        }

        var json = buffer.WrittenSpan;
        var usage = result.Usage;
        usage.ResponseModel ??= result.UsageReader.ReadModelFromHead(json);
        var finder = default(TopLevelUsageFinder);
        finder.Scan(json);
        if (finder.UsageAt >= 0)
        {
            result.UsageReader.ReadUsageMember(json[(int)finder.UsageAt..], usage);
        }

        var status = result.Response is { } response ? (int)response.StatusCode : 200;
        translator.WriteBody(json, status, usage, output);
        return await RelayFlush.FlushAsync(output, idle, writeTimeout, clientAborted).ConfigureAwait(false);
    }
}
