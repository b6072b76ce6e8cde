using System.Collections.Concurrent;
using System.Globalization;
using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// The <see cref="IProxyRateLimiter"/> shared by every instance: one <c>EVALSHA</c> per request decides the caller's
/// requests, tokens and concurrency and the candidates' capacity (<see cref="RateLimitScripts.Acquire"/>); the chosen
/// provider is charged off the request path, and settling and releasing are queued after the response and sent in batches
/// off the request path (<see cref="Queue"/>). While
/// Redis is unavailable it falls back to the in-memory limiter (<see cref="RedisFailMode.Open"/>) or refuses with
/// <see cref="ProxyRateLimitReason.Unavailable"/> (<see cref="RedisFailMode.Closed"/>).
/// </summary>
internal sealed class RedisProxyRateLimiter : IProxyRateLimiter, IDisposable
{
    /// <summary>Lua numbers are doubles: amounts stay well inside their exact integer range.</summary>
    private const long MaxAmount = 1L << 50;

    /// <summary>Operations per settle-and-release call: bounds one script's run on the server.</summary>
    private const int MaxBatch = 256;

    internal static readonly RedisValue Adjust = "a";
    internal static readonly RedisValue ChargeRequest = "r";
    internal static readonly RedisValue ChargeTokens = "t";
    internal static readonly RedisValue Release = "z";

    private static readonly RedisValue None = -1;
    private static readonly RedisValue Yes = 1;
    private static readonly RedisValue No = 0;

    private readonly RedisConnection _redis;
    private readonly InMemoryProxyRateLimiter _local;
    private readonly RedisValue _window;
    private readonly RedisValue _leaseTtl;
    private readonly ConcurrentDictionary<RedisLease, byte> _held = new();
    private readonly ITimer _renewal;
    private readonly ConcurrentQueue<FinishOperation> _finishes = new();
    private long _nextLease;
    private int _flushing;

    public RedisProxyRateLimiter(RedisConnection redis, InMemoryProxyRateLimiter local, TimeProvider time)
    {
        _redis = redis;
        _local = local;
        _window = (long)InMemoryProxyRateLimiter.Window.TotalMilliseconds;
        _leaseTtl = (long)redis.Options.ConcurrencyLeaseTimeout.TotalMilliseconds;
        var renewEvery = redis.Options.ConcurrencyLeaseTimeout / 3;
        _renewal = time.CreateTimer(static state => _ = ((RedisProxyRateLimiter)state!).RenewAsync(), this, renewEvery, renewEvery);
        redis.AddWarmup(WarmUpAsync);
    }

    internal RedisConnection Redis => _redis;

    /// <summary>Leases holding concurrent slots in Redis, for renewal (and tests).</summary>
    internal int HeldCount => _held.Count;

    public async ValueTask<ProxyRateLimitLease> AcquireAsync(ProxyRateLimitRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var limits = request.Limits;
        if (limits.IsUnlimited && request.Providers.Count == 0)
        {
            return UnlimitedLease.Instance;
        }

        if (!_redis.TryGetDatabase(out var database))
        {
            return Fallback(request);
        }

        var estimate = Math.Clamp(request.EstimatedTokens, 0, MaxAmount);
        var leaseId = _redis.InstanceId + ":" + Interlocked.Increment(ref _nextLease).ToString(CultureInfo.InvariantCulture);
        var (keys, values) = AcquireArguments(request, estimate, leaseId);
        var acquire = RateLimitScripts.Acquire.EvaluateAsync(database, keys, values);
        bool ok;
        RedisResult result;
        try
        {
            (ok, result) = await _redis.TryRunAsync(database, "acquire", acquire, static (_, task) => task, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            ReleaseUnanswered(request, leaseId, acquire);
            throw;
        }

        if (!ok)
        {
            ReleaseUnanswered(request, leaseId, acquire);
            return Fallback(request);
        }

        var fields = (RedisResult[])result!;
        var reason = (int)fields[0];
        var requests = limits.RequestsPerMinute is { } rpm ? Window(rpm, (long)fields[2], (long)fields[3]) : (ProxyRateLimitWindow?)null;
        var tokens = limits.TokensPerMinute is { } tpm ? Window(tpm, (long)fields[4], (long)fields[5]) : (ProxyRateLimitWindow?)null;
        if (reason != 0)
        {
            return new RejectedLease((ProxyRateLimitReason)reason, TimeSpan.FromMilliseconds((long)fields[1]), requests, tokens);
        }

        var available = (string?)fields[7] ?? string.Empty;
        var lease = new RedisLease(this, request, estimate, leaseId, requests, tokens, (long)fields[6], available);
        if (limits.MaxConcurrentRequests is not null)
        {
            _held.TryAdd(lease, 0);
        }

        return lease;
    }

    /// <summary>
    /// An acquire whose answer never came (timeout, failure, cancellation) may still have run on the server and taken the
    /// caller's concurrent slot under <paramref name="leaseId"/>; nothing would release it before
    /// <see cref="RedisOptions.ConcurrencyLeaseTimeout"/>. Its release is queued once the call has ended (so it reaches the
    /// server after the script, even one resent after <c>NOSCRIPT</c>); when the script did not run it removes nothing.
    /// The acquire takes no provider slot (the selected provider's is taken later, by its lease), so only the caller's.
    /// </summary>
    private void ReleaseUnanswered(ProxyRateLimitRequest request, string leaseId, Task<RedisResult> acquire)
    {
        if (request.Limits.IsUnlimited || request.Limits.MaxConcurrentRequests is null)
        {
            return;
        }

        var release = new FinishOperation(Release, _redis.Keys.Caller(request.Partition).Concurrent, leaseId, 0);
        if (acquire.IsCompleted)
        {
            _ = acquire.Exception; // observed: its failure was reported already
            Queue(release);
            Flush();
            return;
        }

        _ = acquire.ContinueWith(
            static (task, state) =>
            {
                _ = task.Exception;
                var (limiter, operation) = ((RedisProxyRateLimiter, FinishOperation))state!;
                limiter.Queue(operation);
                limiter.Flush();
            },
            (this, release),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private ProxyRateLimitLease Fallback(ProxyRateLimitRequest request)
        => _redis.FailsClosed
            ? new RejectedLease(ProxyRateLimitReason.Unavailable, _redis.Options.RetryInterval, null, null)
            : _local.Acquire(request);

    private static ProxyRateLimitWindow Window(long limit, long used, long resetMs)
        => new(limit, Math.Max(0, limit - used), TimeSpan.FromMilliseconds(Math.Max(0, resetMs)));

    private (RedisKey[] Keys, RedisValue[] Values) AcquireArguments(ProxyRateLimitRequest request, long estimate, string leaseId)
    {
        var providers = request.Providers;
        var keys = new RedisKey[2 + (providers.Count * 2)];
        var values = new RedisValue[7 + (providers.Count * 3)];
        values[0] = _window;
        values[1] = _leaseTtl;
        values[2] = leaseId;
        values[3] = estimate;
        var limits = request.Limits;
        if (limits.IsUnlimited)
        {
            keys[0] = keys[1] = _redis.Keys.Unused;
            values[4] = values[5] = values[6] = None;
        }
        else
        {
            var caller = _redis.Keys.Caller(request.Partition);
            SetLimits(keys, values, 0, 4, caller, limits);
        }

        for (var i = 0; i < providers.Count; i++)
        {
            var capacity = providers[i].Limits;
            if (capacity.IsUnlimited)
            {
                keys[2 + (i * 2)] = keys[3 + (i * 2)] = _redis.Keys.Unused;
                values[7 + (i * 3)] = values[8 + (i * 3)] = values[9 + (i * 3)] = None;
            }
            else
            {
                SetLimits(keys, values, 2 + (i * 2), 7 + (i * 3), _redis.Keys.Provider(providers[i].Provider), capacity);
            }
        }

        return (keys, values);
    }

    private static void SetLimits(RedisKey[] keys, RedisValue[] values, int keyIndex, int valueIndex, RedisKeys.LimitKeys target, ProxyLimits limits)
    {
        keys[keyIndex] = target.Windows;
        keys[keyIndex + 1] = target.Concurrent;
        values[valueIndex] = limits.RequestsPerMinute is { } rpm ? rpm : None;
        values[valueIndex + 1] = limits.TokensPerMinute is { } tpm ? tpm : None;
        values[valueIndex + 2] = limits.MaxConcurrentRequests is { } max ? max : None;
    }

    /// <summary>Charges the selected provider; returns its token window start, or -1 when it has no token limit or Redis failed.</summary>
    internal async Task<long> ChargeProviderAsync(string provider, ProxyLimits capacity, long estimate, string leaseId)
    {
        if (!_redis.TryGetDatabase(out var database))
        {
            return -1;
        }

        var target = _redis.Keys.Provider(provider);
        RedisKey[] keys = [target.Windows, target.Concurrent];
        RedisValue[] values =
        [
            _window, _leaseTtl, leaseId, estimate,
            capacity.RequestsPerMinute is null ? No : Yes,
            capacity.TokensPerMinute is null ? No : Yes,
            capacity.MaxConcurrentRequests is null ? No : Yes,
        ];
        var (ok, result) = await _redis.TryRunAsync(database, "charge provider", (keys, values), static (db, s) => RateLimitScripts.ChargeProvider.EvaluateAsync(db, s.keys, s.values), CancellationToken.None).ConfigureAwait(false);
        return ok ? (long)result : -1;
    }

    /// <summary>
    /// Queues what a finished lease settles and releases (<see cref="RateLimitScripts.Finish"/>) and returns at once: the
    /// request never waits for it. One flush at a time sends every queued operation (up to <see cref="MaxBatch"/>) in one
    /// call; the first starts at once when none is running, and what arrives meanwhile goes with the next, so under load
    /// many leases share a call, and a slot is free again about one round trip after its lease was disposed (two under load).
    /// </summary>
    internal void Queue(FinishOperation operation) => _finishes.Enqueue(operation);

    /// <summary>Starts sending what <see cref="Queue"/> collected, unless a flush is running (it will take it along).</summary>
    internal void Flush()
    {
        if (Interlocked.CompareExchange(ref _flushing, 1, 0) == 0)
        {
            _ = FlushAsync();
        }
    }

    private async Task FlushAsync()
    {
        try
        {
            while (true)
            {
                while (!_finishes.IsEmpty)
                {
                    var count = Math.Min(_finishes.Count, MaxBatch);
                    var keys = new RedisKey[count];
                    var values = new RedisValue[1 + (count * 3)];
                    values[0] = _window;
                    var taken = 0;
                    while (taken < count && _finishes.TryDequeue(out var operation))
                    {
                        keys[taken] = operation.Key;
                        values[1 + (taken * 3)] = operation.Kind;
                        values[2 + (taken * 3)] = operation.A;
                        values[3 + (taken * 3)] = operation.B;
                        taken++;
                    }

                    if (taken < count)
                    {
                        Array.Resize(ref keys, taken);
                        Array.Resize(ref values, 1 + (taken * 3));
                    }

                    if (taken > 0 && _redis.TryGetDatabase(out var database))
                    {
                        await _redis.TryRunAsync(database, "settle and release", (keys, values), static (db, s) => RateLimitScripts.Finish.EvaluateAsync(db, s.keys, s.values), CancellationToken.None).ConfigureAwait(false);
                    }
                }

                Volatile.Write(ref _flushing, 0);
                if (_finishes.IsEmpty || Interlocked.CompareExchange(ref _flushing, 1, 0) != 0)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (RedisConnection.IsRedisFailure(ex, CancellationToken.None))
        {
            Volatile.Write(ref _flushing, 0);
        }
    }

    internal void Track(RedisLease lease) => _held.TryAdd(lease, 0);

    internal void Untrack(RedisLease lease) => _held.TryRemove(lease, out _);

    private async Task RenewAsync()
    {
        if (_held.IsEmpty || !_redis.TryGetDatabase(out var database))
        {
            return;
        }

        var keys = new List<RedisKey>();
        var values = new List<RedisValue> { _leaseTtl };
        foreach (var lease in _held.Keys)
        {
            lease.AddSlots(keys, values);
        }

        if (keys.Count > 0)
        {
            RedisKey[] keyArray = [.. keys];
            RedisValue[] valueArray = [.. values];
            await _redis.TryRunAsync(database, "renew slots", db => RateLimitScripts.Renew.EvaluateAsync(db, keyArray, valueArray), CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async Task WarmUpAsync(IDatabase database)
    {
        // Runs every script once with nothing to do, so each is cached on the server and its client path is compiled.
        var unused = _redis.Keys.Unused;
        await RateLimitScripts.Acquire.EvaluateAsync(database, [unused, unused], [_window, _leaseTtl, "warmup", 0, None, None, None]).ConfigureAwait(false);
        await RateLimitScripts.ChargeProvider.EvaluateAsync(database, [unused, unused], [_window, _leaseTtl, "warmup", 0, No, No, No]).ConfigureAwait(false);
        await RateLimitScripts.Finish.EvaluateAsync(database, [], [_window]).ConfigureAwait(false);
        await RateLimitScripts.Renew.EvaluateAsync(database, [], [_leaseTtl]).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _renewal.Dispose();
        Flush(); // what is still queued, best effort: slots left behind expire on their own
    }

    /// <summary>One operation of <see cref="RateLimitScripts.Finish"/>: its kind (<see cref="Adjust"/>,
    /// <see cref="ChargeRequest"/>, <see cref="ChargeTokens"/>, <see cref="Release"/>), its key and its two arguments.</summary>
    internal readonly record struct FinishOperation(RedisValue Kind, RedisKey Key, RedisValue A, RedisValue B);
}
