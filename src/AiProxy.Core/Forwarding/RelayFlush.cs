using System.IO.Pipelines;

namespace AiProxy.Forwarding;

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
}
