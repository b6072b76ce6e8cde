using System.Runtime.CompilerServices;
using System.Buffers;
using System.IO.Pipelines;
using AiProxy.Attempts;
using AiProxy.Errors;
using AiProxy.Inbound;
using AiProxy.Usage;

namespace AiProxy.Relay;

/// <summary>
/// Copies an upstream body to the client as it arrives. Event streams go event by event through
/// <see cref="EventStreamRelay"/>; other bodies are read straight into the output pipe's memory and flushed per
/// read, while a small window of their head and tail yields the model and usage. No whole-body buffering.
/// A stream that breaks after the first byte ends with one error event instead of a silent clean end.
/// </summary>
internal static class ResponseRelay
{
    private const int MinReadSize = 4096;
    private const int TailSize = 8 * 1024;

    /// <param name="result">The response to relay.</param>
    /// <param name="output">The client's response body.</param>
    /// <param name="inbound">The client's API: the shape of the error event that ends a broken stream.</param>
    /// <param name="idleTimeout">Longest silence of the upstream (<c>StreamIdleTimeout</c>); waiting on the client never counts.</param>
    /// <param name="writeTimeout">Longest time the client may leave relayed bytes untaken (<c>ClientWriteTimeout</c>).</param>
    /// <param name="time">The clock of both timers.</param>
    /// <param name="clientAborted">Fires when the client went away.</param>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public static async ValueTask<RelayOutcome> CopyAsync(
        ForwardResult result, PipeWriter output, IInboundApi inbound, TimeSpan idleTimeout, TimeSpan writeTimeout, TimeProvider time, CancellationToken clientAborted)
    {
        if (result.EventStream is { } events)
        {
            events.Translator = result.Translator;
            var outcome = await events.CopyToAsync(output, idleTimeout, writeTimeout, time, clientAborted).ConfigureAwait(false);
            if (outcome is RelayOutcome.UpstreamFailed or RelayOutcome.UpstreamIdle && !clientAborted.IsCancellationRequested)
            {
                var provider = result.Provider?.Name ?? "upstream";
                var error = outcome == RelayOutcome.UpstreamIdle
                    ? new ProxyError(504, ProxyError.UpstreamErrorType, "stream_idle_timeout", $"Provider '{provider}' sent nothing for {idleTimeout.TotalSeconds:0.###} s; the stream was ended.")
                    : new ProxyError(502, ProxyError.UpstreamErrorType, "stream_interrupted", $"The stream from provider '{provider}' broke before it was complete.");
                inbound.WriteStreamError(output, error);
                using var timer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
                using var registration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timer);
                await RelayFlush.FlushAsync(output, timer, writeTimeout, clientAborted).ConfigureAwait(false);
            }

            return outcome;
        }

        var body = result.Body ?? throw new InvalidOperationException("Nothing to relay.");
        if (result.Translator is { } translator)
        {
            return await TranslatedBodyRelay.CopyAsync(result, body, translator, output, idleTimeout, writeTimeout, time, clientAborted).ConfigureAwait(false);
        }

        var isJson = result.Response?.Content.Headers.ContentType?.MediaType?.EndsWith("json", StringComparison.OrdinalIgnoreCase) == true;
        var tail = isJson ? ArrayPool<byte>.Shared.Rent(TailSize * 2) : null;
        try
        {
            var (outcome, tailLength, usageAt) = await CopyRawAsync(body, output, idleTimeout, writeTimeout, time, result.Usage, result.UsageReader, tail, clientAborted).ConfigureAwait(false);
            if (outcome == RelayOutcome.Completed && tail is not null && usageAt >= 0)
            {
                result.UsageReader.ReadUsageMember(tail.AsSpan((int)usageAt, tailLength - (int)usageAt), result.Usage);
            }

            return outcome;
        }
        finally
        {
            if (tail is not null)
            {
                ArrayPool<byte>.Shared.Return(tail);
            }
        }
    }

    /// <returns>How the copy ended, the tail's length, and the offset in the tail of the body's top-level <c>usage</c> member
    /// (-1 when it has none, or when it is not within the tail).</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(RelayOutcome Outcome, int TailLength, long UsageAt)> CopyRawAsync(
        Stream body, PipeWriter output, TimeSpan idleTimeout, TimeSpan writeTimeout, TimeProvider time, UsageData usage, IUsageReader usageReader, byte[]? tail, CancellationToken clientAborted)
    {
        // One timer for the whole copy, re-armed before each read (a body may take as long as it keeps sending) and
        // before a flush the client does not take at once: each wait is measured against its own side.
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var registration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), idle);
        var tailLength = 0;
        var first = true;
        var finder = default(TopLevelUsageFinder);
        while (true)
        {
            var memory = output.GetMemory(MinReadSize);
            int read;
            try
            {
                idle.CancelAfter(idleTimeout);
                read = await body.ReadAsync(memory, idle.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (UpstreamReadFailure.Ends(ex))
            {
                return (UpstreamReadFailure.Outcome(ex, clientAborted), tailLength, -1);
            }

            if (read == 0)
            {
                var usageAt = finder.UsageAt - (finder.Position - tailLength); // from the body's start to the tail's
                return (RelayOutcome.Completed, tailLength, finder.UsageAt >= 0 && usageAt >= 0 ? usageAt : -1);
            }

            if (tail is not null)
            {
                var chunk = memory.Span[..read];
                if (first)
                {
                    usage.ResponseModel ??= usageReader.ReadModelFromHead(chunk);
                    first = false;
                }

                finder.Scan(chunk);
                tailLength = AppendToTail(tail, tailLength, chunk);
            }

            output.Advance(read);
            var flushed = await RelayFlush.FlushAsync(output, idle, writeTimeout, clientAborted).ConfigureAwait(false);
            if (flushed != RelayOutcome.Completed)
            {
                return (flushed, tailLength, -1);
            }
        }
    }

    /// <summary>Keeps the last <see cref="TailSize"/> bytes (at least) of the body in <paramref name="tail"/>.</summary>
    private static int AppendToTail(byte[] tail, int length, ReadOnlySpan<byte> chunk)
    {
        if (chunk.Length >= TailSize)
        {
            chunk[^TailSize..].CopyTo(tail);
            return TailSize;
        }

        if (length + chunk.Length > tail.Length)
        {
            var keep = TailSize - chunk.Length;
            tail.AsSpan(length - keep, keep).CopyTo(tail);
            length = keep;
        }

        chunk.CopyTo(tail.AsSpan(length));
        return length + chunk.Length;
    }
}
