namespace AiProxy.Health;

/// <summary>
/// A store the gateway shares state through with its other instances (Redis, from <c>AiProxy.Redis</c>). The gateway's
/// health check reports Degraded while it is unreachable and the gateway falls back to local state, or the check's
/// failure status when it fails closed (requests are refused meanwhile).
/// </summary>
public interface ISharedStateStatus
{
    /// <summary>A short name for the health check's data and <c>/status</c>, such as <c>redis</c>.</summary>
    string Name { get; }

    /// <summary>Whether the store answers now.</summary>
    bool IsAvailable { get; }

    /// <summary>Whether requests are refused while the store is unavailable.</summary>
    bool FailsClosed { get; }
}
