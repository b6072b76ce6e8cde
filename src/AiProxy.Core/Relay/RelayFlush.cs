using System.Runtime.CompilerServices;
using System.IO.Pipelines;

namespace AiProxy.Relay;

/// <summary>Flushes relayed bytes to the client; a client that went away is an outcome, not an exception.</summary>
internal static class RelayFlush
{
    /// <returns><see langword="false"/> when the client is gone (the flush was cancelled or the connection completed).</returns>
    public static async ValueTask<bool> TryFlushAsync(PipeWriter output, CancellationToken clientAborted)
    {
        try
        {
            var flush = await output.FlushAsync(clientAborted).ConfigureAwait(false);
            return !(flush.IsCompleted || flush.IsCanceled || clientAborted.IsCancellationRequested);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// Flushes within <paramref name="writeTimeout"/>, measured only while the client is not taking the bytes: a flush
    /// that completes at once arms no timer. <paramref name="timer"/> is the relay's one timer, also cancelled when the
    /// client aborts; while a flush waits it measures the client (otherwise the upstream).
    /// </summary>
    /// <returns><see cref="RelayOutcome.Completed"/> when flushed, <see cref="RelayOutcome.ClientAborted"/> when the client
    /// is gone, <see cref="RelayOutcome.ClientTooSlow"/> when it did not read for <paramref name="writeTimeout"/>.</returns>
    public static ValueTask<RelayOutcome> FlushAsync(PipeWriter output, CancellationTokenSource timer, TimeSpan writeTimeout, CancellationToken clientAborted)
    {
        ValueTask<FlushResult> flush;
        try
        {
            flush = output.FlushAsync(timer.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            return ValueTask.FromResult(RelayOutcome.ClientAborted);
        }

        if (flush.IsCompletedSuccessfully)
        {
            var result = flush.Result;
            return ValueTask.FromResult(result.IsCompleted || result.IsCanceled || clientAborted.IsCancellationRequested
                ? RelayOutcome.ClientAborted
                : RelayOutcome.Completed);
        }

        return AwaitAsync(flush, timer, writeTimeout, clientAborted);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<RelayOutcome> AwaitAsync(
        ValueTask<FlushResult> flush, CancellationTokenSource timer, TimeSpan writeTimeout, CancellationToken clientAborted)
    {
        // The timer's cancellation also aborts the connection (the server then reports the client gone): which of the
        // two came first is noted when it fires.
        var wait = new PendingFlush(clientAborted);
        using var registration = timer.Token.UnsafeRegister(static s => ((PendingFlush)s!).OnCancelled(), wait);
        timer.CancelAfter(writeTimeout);
        try
        {
            var result = await flush.ConfigureAwait(false);
            if (wait.TimedOut)
            {
                return RelayOutcome.ClientTooSlow;
            }

            return result.IsCompleted || result.IsCanceled || clientAborted.IsCancellationRequested
                ? RelayOutcome.ClientAborted
                : RelayOutcome.Completed;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            return wait.TimedOut ? RelayOutcome.ClientTooSlow : RelayOutcome.ClientAborted;
        }
    }

    private sealed class PendingFlush(CancellationToken clientAborted)
    {
        private volatile bool _timedOut;

        public bool TimedOut => _timedOut;

        public void OnCancelled() => _timedOut = !clientAborted.IsCancellationRequested;
    }
}
