using System.Collections.Concurrent;
using System.Globalization;
using AiProxy.RateLimiting;
using AiProxy.Redis.Connection;
using StackExchange.Redis;

namespace AiProxy.Redis.RateLimiting;

/// <summary>
/// The <see cref="IProxyRateLimiter"/> shared by every instance. Every Redis operation of the request path goes through
/// one queue and one script (<see cref="RateLimitScripts.Run"/>): a request's acquire (its caller's requests, tokens and
/// concurrency and its candidates' capacity), the chosen provider's charge, and what a finished lease settles and releases.
/// One call is out at a time; what queues meanwhile goes in the next, so a lone request costs one round trip as before,
/// and under load many requests share one round trip and one script run, each still decided atomically on the server, in
/// order, as if it ran alone (limits stay exact across instances). Settling and releasing never hold a request up. While
/// Redis is unavailable it falls back to the in-memory limiter (<see cref="RedisFailMode.Open"/>) or refuses with
/// <see cref="ProxyRateLimitReason.Unavailable"/> (<see cref="RedisFailMode.Closed"/>).
/// </summary>
internal sealed class RedisProxyRateLimiter : IProxyRateLimiter, IDisposable
{
    /// <summary>Lua numbers are doubles: amounts stay well inside their exact integer range.</summary>
    private const long MaxAmount = 1L << 50;

    /// <summary>Settle-and-release operations per call: bounds one script's run on the server.</summary>
    private const int MaxFinishes = 256;

    /// <summary>Acquires and provider charges per call, likewise.</summary>
    private const int MaxCalls = 64;

    private readonly RedisConnection _redis;
    private readonly InMemoryProxyRateLimiter _local;
    private readonly RedisValue _window;
    private readonly RedisValue _leaseTtl;
    private readonly ConcurrentDictionary<RedisLease, byte> _held = new();
    private readonly ITimer _renewal;
    private readonly ConcurrentQueue<FinishOperation> _finishes = new();
    private readonly ConcurrentQueue<LimiterCall> _calls = new();
    private readonly List<RedisKey> _batchKeys = [];
    private readonly List<RedisValue> _batchValues = [];
    private readonly List<LimiterCall> _batchCalls = [];
    private long _nextLease;
    private long _batchesSent;
    private long _fallbacks;
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

    /// <summary>Calls sent to Redis by the batching queue so far (tests: many requests share a call under load).</summary>
    internal long BatchesSent => Volatile.Read(ref _batchesSent);

    /// <summary>Requests decided without Redis (unavailable, or their call got no answer), for tests and the benchmark.</summary>
    internal long Fallbacks => Volatile.Read(ref _fallbacks);

    public async ValueTask<ProxyRateLimitLease> AcquireAsync(ProxyRateLimitRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var limits = request.Limits;
        if (limits.IsUnlimited && request.Providers.Count == 0)
        {
            return UnlimitedLease.Instance;
        }

        if (!_redis.TryGetDatabase(out _))
        {
            return Fallback(request);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var estimate = Math.Clamp(request.EstimatedTokens, 0, MaxAmount);
        var leaseId = _redis.InstanceId + ":" + Interlocked.Increment(ref _nextLease).ToString(CultureInfo.InvariantCulture);
        var call = new AcquireCall(_redis.Keys, request, estimate, leaseId);
        _calls.Enqueue(call);
        Flush();
        // Not abandoned on the client's cancellation: the answer comes within the call's timeout (two while a call is out),
        // and only with it can a slot taken for a request that is gone be given back at once.
        var result = await call.Task.ConfigureAwait(false);
        if (result is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return Fallback(request);
        }

        if (!AcquireAnswer.TryParse(result, out var answer))
        {
            // Not Redis's fault as a whole: this request falls back, and a slot its acquire may have taken is given back.
            if (call.SlotRelease is { } taken)
            {
                Queue(taken);
                Flush();
            }

            cancellationToken.ThrowIfCancellationRequested();
            return Fallback(request);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            if (answer.Reason == 0 && call.SlotRelease is { } release)
            {
                Queue(release);
                Flush();
            }

            cancellationToken.ThrowIfCancellationRequested();
        }

        var requests = limits.RequestsPerMinute is { } rpm ? Window(rpm, answer.RequestsUsed, answer.RequestsResetMs) : (ProxyRateLimitWindow?)null;
        var tokens = limits.TokensPerMinute is { } tpm ? Window(tpm, answer.TokensUsed, answer.TokensResetMs) : (ProxyRateLimitWindow?)null;
        if (answer.Reason != 0)
        {
            return new RejectedLease((ProxyRateLimitReason)answer.Reason, TimeSpan.FromMilliseconds(answer.RetryAfterMs), requests, tokens);
        }

        var lease = new RedisLease(this, request, call.Caller, estimate, leaseId, requests, tokens, answer.TokenWindowStart, answer.Availability);
        if (limits.MaxConcurrentRequests is not null)
        {
            _held.TryAdd(lease, 0);
        }

        return lease;
    }

    private ProxyRateLimitLease Fallback(ProxyRateLimitRequest request)
    {
        Interlocked.Increment(ref _fallbacks);
        return _redis.FailsClosed
            ? new RejectedLease(ProxyRateLimitReason.Unavailable, _redis.Options.RetryInterval, null, null)
            : _local.Acquire(request);
    }

    private static ProxyRateLimitWindow Window(long limit, long used, long resetMs)
        => new(limit, Math.Max(0, limit - used), TimeSpan.FromMilliseconds(Math.Max(0, resetMs)));

    /// <summary>Charges the selected provider; returns its token window start, or -1 when it has no token limit or Redis failed.</summary>
    internal async Task<long> ChargeProviderAsync(string provider, ProxyLimits capacity, long estimate, string leaseId)
    {
        if (!_redis.TryGetDatabase(out _))
        {
            return -1;
        }

        var call = new ProviderChargeCall(_redis.Keys.Provider(provider), capacity, estimate, leaseId);
        _calls.Enqueue(call);
        Flush();
        return await call.Task.ConfigureAwait(false) is { } answer ? (long)answer : -1;
    }

    /// <summary>
    /// Queues what a finished lease settles and releases and returns at once: the request never waits for it. It goes with
    /// the next call (<see cref="Flush"/>), so a slot is free again about one round trip after its lease was disposed (two
    /// under load).
    /// </summary>
    internal void Queue(FinishOperation operation) => _finishes.Enqueue(operation);

    /// <summary>Starts sending what is queued, unless a call is out (what is queued then goes with the next one).</summary>
    internal void Flush()
    {
        if (Interlocked.CompareExchange(ref _flushing, 1, 0) == 0)
        {
            _ = FlushAsync();
        }
    }

    private async Task FlushAsync()
    {
        while (true)
        {
            while (!_finishes.IsEmpty || !_calls.IsEmpty)
            {
                try
                {
                    await SendBatchAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // Not expected (every call it took is answered or falls back), but the queue must never stop: a stopped
                    // queue would leave every later request waiting.
                    _redis.ReportFailure("limits: " + ex.GetType().Name);
                    foreach (var call in _batchCalls)
                    {
                        call.TrySetResult(null);
                    }
                }
            }

            Interlocked.Exchange(ref _flushing, 0); // a full fence: what was queued before a Flush that saw 1 is seen below
            if ((_finishes.IsEmpty && _calls.IsEmpty) || Interlocked.CompareExchange(ref _flushing, 1, 0) != 0)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Sends one call: the queued settlements and releases first (a slot freed is free for the acquires after it), then
    /// the queued acquires and provider charges, and hands each its answer. Never throws: a call without an answer leaves
    /// its requests to fall back, and gives back, once the call has ended, every slot it may still have taken on the server.
    /// </summary>
    private async Task SendBatchAsync()
    {
        var keys = _batchKeys;
        var values = _batchValues;
        var calls = _batchCalls;
        keys.Clear();
        values.Clear();
        calls.Clear();
        values.Add(_window);
        values.Add(_leaseTtl);
        for (var i = 0; i < MaxFinishes && _finishes.TryDequeue(out var operation); i++)
        {
            keys.Add(operation.Key);
            values.Add(operation.Kind);
            values.Add(operation.A);
            values.Add(operation.B);
        }

        for (var i = 0; i < MaxCalls && _calls.TryDequeue(out var call); i++)
        {
            var (keyCount, valueCount) = (keys.Count, values.Count);
            try
            {
                call.Write(keys, values);
                calls.Add(call);
            }
            catch (Exception)
            {
                // Never strand a request: this one falls back (Redis is fine), the rest go as if it had not been queued.
                keys.RemoveRange(keyCount, keys.Count - keyCount);
                values.RemoveRange(valueCount, values.Count - valueCount);
                call.TrySetResult(null);
            }
        }

        if (!_redis.TryGetDatabase(out var database))
        {
            foreach (var call in calls)
            {
                call.TrySetResult(null); // falls back; settlements are dropped (their windows and slots expire on their own)
            }

            return;
        }

        Task<RedisResult>? sent = null;
        RedisResult[]? answers = null;
        try
        {
            sent = RateLimitScripts.Run.EvaluateAsync(database, [.. keys], [.. values]);
            Interlocked.Increment(ref _batchesSent);
            var (ok, result) = await _redis.TryRunAsync(database, "limits", sent, static (_, task) => task, CancellationToken.None).ConfigureAwait(false);
            if (ok && result is { Resp2Type: ResultType.Array } && ((RedisResult[])result!).Length == calls.Count)
            {
                answers = (RedisResult[])result!;
            }
        }
        catch (Exception ex)
        {
            // TryRunAsync reports Redis failures; anything else (the client refusing the call) must not strand the requests
            // waiting for their answers, nor stop the queue: they fall back like any call without an answer.
            _redis.ReportFailure("limits: " + ex.GetType().Name);
        }

        for (var i = 0; i < calls.Count; i++)
        {
            calls[i].TrySetResult(answers?[i]);
        }

        if (answers is null && calls.Count > 0)
        {
            ReleaseUnanswered(sent, calls);
        }
    }

    /// <summary>
    /// Calls whose answer never came (timeout, failure) may still have run on the server and taken concurrent slots under
    /// their lease ids; nothing would release them before <see cref="RedisOptions.ConcurrencyLeaseTimeout"/>. Their releases
    /// are queued once the call has ended (so they reach the server after the script, even one resent after
    /// <c>NOSCRIPT</c>); where the script did not run they remove nothing.
    /// </summary>
    private void ReleaseUnanswered(Task<RedisResult>? sent, List<LimiterCall> calls)
    {
        var releases = calls.Select(static call => call.SlotRelease).OfType<FinishOperation>().ToArray();
        if (releases.Length == 0)
        {
            return;
        }

        if (sent is null || sent.IsCompleted)
        {
            _ = sent?.Exception; // observed: its failure was reported already
            QueueReleases(releases);
            return;
        }

        _ = sent.ContinueWith(
            static (task, state) =>
            {
                _ = task.Exception;
                var (limiter, releases) = ((RedisProxyRateLimiter, FinishOperation[]))state!;
                limiter.QueueReleases(releases);
            },
            (this, releases),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void QueueReleases(FinishOperation[] releases)
    {
        foreach (var release in releases)
        {
            Queue(release);
        }

        Flush();
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
        await RateLimitScripts.Run.EvaluateAsync(database, [], [_window, _leaseTtl]).ConfigureAwait(false);
        await RateLimitScripts.Renew.EvaluateAsync(database, [], [_leaseTtl]).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _renewal.Dispose();
        Flush(); // what is still queued, best effort: slots left behind expire on their own
    }
}
