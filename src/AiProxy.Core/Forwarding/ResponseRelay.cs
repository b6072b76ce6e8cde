using System.IO.Pipelines;
using AiProxy.Errors;

namespace AiProxy.Forwarding;

/// <summary>
/// Copies an upstream body to the client: each read from the upstream goes straight into the output pipe's
/// memory and is flushed at once, so every SSE event leaves as soon as it arrived. No whole-body buffering.
/// A stream that breaks after the first byte ends with one error event instead of a silent clean end.
/// </summary>
internal static class ResponseRelay
{
    private const int MinReadSize = 4096;

    public static async ValueTask<RelayOutcome> CopyAsync(
        ForwardResult result, PipeWriter output, TimeSpan idleTimeout, TimeProvider time, CancellationToken clientAborted)
    {
        var body = result.Body ?? throw new InvalidOperationException("Nothing to relay.");
        var outcome = await CopyBodyAsync(result, body, output, idleTimeout, time, clientAborted).ConfigureAwait(false);
        if (result.IsEventStream && outcome is RelayOutcome.UpstreamFailed or RelayOutcome.UpstreamIdle && !clientAborted.IsCancellationRequested)
        {
            var provider = result.Provider?.Name ?? "upstream";
            var error = outcome == RelayOutcome.UpstreamIdle
                ? new ProxyError(504, ProxyError.UpstreamErrorType, "stream_idle_timeout", $"Provider '{provider}' sent nothing for {idleTimeout.TotalSeconds:0.###} s; the stream was ended.")
                : new ProxyError(502, ProxyError.UpstreamErrorType, "stream_interrupted", $"The stream from provider '{provider}' broke before it was complete.");
            ProxyErrorWriter.WriteSseEvent(output, error);
            await output.FlushAsync(clientAborted).ConfigureAwait(false);
        }

        return outcome;
    }

    private static async ValueTask<RelayOutcome> CopyBodyAsync(
        ForwardResult result, Stream body, PipeWriter output, TimeSpan idleTimeout, TimeProvider time, CancellationToken clientAborted)
    {
        if (!result.Prefetched.IsEmpty)
        {
            await output.WriteAsync(result.Prefetched, clientAborted).ConfigureAwait(false);
            if (clientAborted.IsCancellationRequested)
            {
                return RelayOutcome.ClientAborted;
            }
        }

        // One timer for the whole copy, re-armed before each read: a body may take as long as it keeps sending.
        using var idle = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var registration = clientAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), idle);
        while (true)
        {
            var memory = output.GetMemory(MinReadSize);
            int read;
            try
            {
                idle.CancelAfter(idleTimeout);
                read = await body.ReadAsync(memory, idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (clientAborted.IsCancellationRequested)
            {
                return RelayOutcome.ClientAborted;
            }
            catch (OperationCanceledException)
            {
                return RelayOutcome.UpstreamIdle;
            }
            catch (Exception ex) when (ex is IOException or HttpRequestException)
            {
                return clientAborted.IsCancellationRequested ? RelayOutcome.ClientAborted : RelayOutcome.UpstreamFailed;
            }

            if (read == 0)
            {
                return RelayOutcome.Completed;
            }

            output.Advance(read);
            var flush = await output.FlushAsync(clientAborted).ConfigureAwait(false);
            if (flush.IsCompleted || flush.IsCanceled || clientAborted.IsCancellationRequested)
            {
                return RelayOutcome.ClientAborted;
            }
        }
    }
}
