namespace AiProxy.Usage;

/// <summary>How a forwarded request ended.</summary>
public enum ProxyRequestOutcome
{
    /// <summary>The response reached the client whole (whatever its status).</summary>
    Completed,

    /// <summary>The gateway answered with its own error (every attempt failed, timeout, no provider).</summary>
    Failed,

    /// <summary>The client went away before the response was complete; the upstream call was cancelled.</summary>
    ClientDisconnected,

    /// <summary>The upstream broke, stalled or sent malformed data after the response had started.</summary>
    UpstreamBroken,

    /// <summary>Answered from the response cache: no provider was asked, no tokens were spent.</summary>
    CacheHit,
}
