namespace AiProxy.Redis;

/// <summary>What the gateway does while Redis is unavailable.</summary>
public enum RedisFailMode
{
    /// <summary>Keep serving: limits fall back to each instance's in-memory limiter (so a limit is enforced per instance),
    /// cooldowns and usage stay local, and the <c>aiproxy</c> health check reports Degraded.</summary>
    Open,

    /// <summary>Refuse requests that have limits to check with 503 (<c>server_error</c> / <c>rate_limiter_unavailable</c>),
    /// so no limit is ever exceeded; the health check reports its failure status.</summary>
    Closed,
}
