namespace AiProxy.Redis;

/// <summary>What the gateway does while Redis is unavailable.</summary>
public enum RedisFailMode
{
    /// <summary>Keep serving: limits fall back to each instance's in-memory limiter (so a limit is enforced per instance),
    /// budgets to each instance's own spend, cooldowns and usage stay local, and the <c>aiproxy</c> health check reports
    /// Degraded.</summary>
    Open,

    /// <summary>Refuse requests that have limits to check with 503 (<c>server_error</c> / <c>rate_limiter_unavailable</c>)
    /// and requests that have budgets to check (a token's or a candidate provider's) with 503 (<c>server_error</c> /
    /// <c>budget_unavailable</c>), so no limit or budget is ever exceeded; the health check reports its failure status.</summary>
    Closed,
}
