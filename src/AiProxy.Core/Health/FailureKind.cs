namespace AiProxy.Health;

/// <summary>Why an attempt failed, as far as health is concerned.</summary>
internal enum FailureKind
{
    /// <summary>Could not connect, or the connection broke.</summary>
    Connection,

    /// <summary>No response headers (or first event) within the attempt timeout.</summary>
    Timeout,

    /// <summary>A retryable status: 408, 429, 5xx.</summary>
    Status,

    /// <summary>401/403: the gateway's key for this provider is wrong.</summary>
    Credentials,

    /// <summary>A stream that broke, stalled or was malformed after it started.</summary>
    Stream,

    /// <summary>The active probe failed.</summary>
    Probe,
}
