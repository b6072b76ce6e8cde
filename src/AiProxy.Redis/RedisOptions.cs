using System.ComponentModel.DataAnnotations;

namespace AiProxy.Redis;

/// <summary>Options of the Redis scale-out (<c>AddRedis</c>), for example bound from <c>OpenAiProxy:Redis</c>.</summary>
public sealed class RedisOptions
{
    /// <summary>Prefixes every key and channel the gateway uses, so several gateways (or other apps) can share one Redis.
    /// Default <c>aiproxy:</c>.</summary>
    [Required]
    [MinLength(1)]
    public string KeyPrefix { get; set; } = "aiproxy:";

    /// <summary>
    /// The longest wait for any one Redis call on the request path. Past it the call is abandoned and its requests fall
    /// back as <see cref="FailMode"/> says; after three such calls in a row, or a lost connection, Redis counts as
    /// unavailable until a probe reaches it again (<see cref="RetryInterval"/>). A request that arrives while the
    /// instance's call is out goes in the next one (up to 64 requests share a call), so it waits for the calls ahead of
    /// it, usually one, each bounded by this. Default 50 ms.
    /// </summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>What requests get while Redis is unavailable: <see cref="RedisFailMode.Open"/> (default: this instance's
    /// in-memory limits and budget spend) or <see cref="RedisFailMode.Closed"/> (503 for a request with limits or budgets).</summary>
    public RedisFailMode FailMode { get; set; } = RedisFailMode.Open;

    /// <summary>How often an unavailable Redis is probed; shared state resumes with the first probe that succeeds. Default 1 s.</summary>
    public TimeSpan RetryInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long a concurrent-request slot outlives its last renewal. Slots of requests still in flight are renewed every third
    /// of it; the slots of an instance that died free themselves after at most this long. Default 30 s.
    /// </summary>
    public TimeSpan ConcurrencyLeaseTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Quota leasing (default off: exact mode, one script call per request). On, an instance takes a slice of a window's
    /// remaining quota (requests and tokens per minute, a token's and a provider's) in one script call and admits requests
    /// from it locally, with no Redis call; slices are at most an eighth of what is left (<see cref="LeaseSliceMax"/> requests
    /// at most) and shrink to one request near the limit, and unspent quota is given back after <see cref="LeaseHold"/>
    /// without use, when its window ends, and on shutdown. No limit is ever passed across instances, but
    /// <c>x-ratelimit-remaining-*</c> becomes approximate (computed from the window's count when this instance last took a
    /// slice, plus what it still holds) and a slice can briefly hold quota back from other instances. Requests under a
    /// concurrency limit (the caller's or a candidate provider's) stay exact: their slots are taken in Redis per request, as
    /// in exact mode. Budgets are never leased.
    /// </summary>
    public bool LeaseQuota { get; set; }

    /// <summary>With <see cref="LeaseQuota"/>: how long a slice may go unused before its rest is given back. Default 1 s.</summary>
    public TimeSpan LeaseHold { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>With <see cref="LeaseQuota"/>: the most requests one slice holds (its tokens are at most this many
    /// estimates). Default 64; 1 to 10,000.</summary>
    public int LeaseSliceMax { get; set; } = 64;

    /// <summary>How long a day's usage counters are kept in Redis. Default 8 days.</summary>
    public TimeSpan UsageRetention { get; set; } = TimeSpan.FromDays(8);

    /// <summary>How long the host waits at start for the first connection before it starts anyway with Redis unavailable
    /// (fail-open or fail-closed). Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
