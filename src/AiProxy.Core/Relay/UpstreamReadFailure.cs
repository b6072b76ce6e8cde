namespace AiProxy.Relay;

/// <summary>What a failed read of the upstream body means, the same for every relay: the client's cancellation wins,
/// else a cancellation is the idle timer firing, and a broken connection is the upstream's failure.</summary>
internal static class UpstreamReadFailure
{
    /// <summary>Whether <paramref name="ex"/>, thrown by a read of the upstream body, ends the relay with an outcome.</summary>
    public static bool Ends(Exception ex) => ex is OperationCanceledException or IOException or HttpRequestException;

    /// <summary>The outcome of a read that threw <paramref name="ex"/> (one <see cref="Ends"/> accepts).</summary>
    public static RelayOutcome Outcome(Exception ex, CancellationToken clientAborted)
        => clientAborted.IsCancellationRequested ? RelayOutcome.ClientAborted
            : ex is OperationCanceledException ? RelayOutcome.UpstreamIdle
            : RelayOutcome.UpstreamFailed;
}
