namespace AiProxy.Relay;

/// <summary>How relaying a response body ended.</summary>
internal enum RelayOutcome
{
    /// <summary>The upstream ended its body and every byte reached the client's connection.</summary>
    Completed,

    /// <summary>The client went away; the upstream call was cancelled.</summary>
    ClientAborted,

    /// <summary>The upstream connection broke mid-body.</summary>
    UpstreamFailed,

    /// <summary>The upstream sent nothing for longer than <c>StreamIdleTimeout</c>.</summary>
    UpstreamIdle,

    /// <summary>The client did not take the bytes for longer than <c>ClientWriteTimeout</c>: its problem, not the provider's.</summary>
    ClientTooSlow,
}
